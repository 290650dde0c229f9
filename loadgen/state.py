"""The running load generator's parts wired together: what the console reads and changes."""
from collections.abc import Mapping
from dataclasses import dataclass

from loadgen.alerts import AlertSources
from loadgen.catalog import Catalog, load_catalog
from loadgen.config import Urls
from loadgen.fault_api import FaultApi
from loadgen.metrics import LoadgenMetrics
from loadgen.process_control import ProcessControl
from loadgen.scenario_manager import ScenarioManager
from loadgen.traffic import DEFAULT_WORKERS, Traffic


@dataclass
class LoadgenState:
    """Everything the console server reads and changes."""
    urls: Urls
    catalog: Catalog
    metrics: LoadgenMetrics
    traffic: Traffic
    manager: ScenarioManager
    sources: AlertSources


def build_state(urls: Urls, rate: float, mix: Mapping[str, float] | None = None, duration: float | None = None,
                arrivals: str = "constant", workers: int = DEFAULT_WORKERS,
                catalog: Catalog | None = None) -> LoadgenState:
    """Wire catalog, metrics, traffic and the scenario manager together (nothing started yet)."""
    catalog = catalog or load_catalog()
    journeys, outcomes = Traffic.metric_labels()
    metrics = LoadgenMetrics(journeys, outcomes, scenarios=catalog)
    traffic = Traffic(urls.shop, rate, metrics, mix=mix, duration=duration, arrivals=arrivals, workers=workers)
    # Natively the launcher's control directory lets a scenario stop the shop; under compose there is none.
    manager = ScenarioManager(catalog, FaultApi(urls), traffic, metrics, processes=ProcessControl.from_env())
    return LoadgenState(urls, catalog, metrics, traffic, manager, AlertSources(urls))
