"""Every metric the load generator exposes, declared in one place.

The load generator is a single process, so it uses a plain registry (never
the multiprocess mode the gunicorn services need). Latency is measured from the
*scheduled* start of a journey, so a stalled server shows up here as latency.
"""
from collections.abc import Collection, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Journeys run from a few milliseconds to the client timeout (tens of seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class LoadgenMetrics:
    """The load generator's metrics in their own registry."""

    def __init__(self, journeys: Iterable[str] = (), outcomes: Collection[str] = (), scenarios: Iterable[str] = (),
                 registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "loadgen_requests", "User journeys finished, by journey and outcome.",
            ["journey", "outcome"], registry=self.registry)
        self.latency = Histogram(
            "loadgen_request_latency_seconds",
            "Journey latency measured from its scheduled start (includes time queued in the load generator).",
            ["journey"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.intended = Counter(
            "loadgen_intended_requests", "Journeys the open-loop schedule asked for (achieved + late + dropped).",
            registry=self.registry)
        self.target_rate = Gauge(
            "loadgen_target_rate_per_second", "Journeys per second the schedule currently aims at.",
            registry=self.registry)
        self.in_progress = Gauge(
            "loadgen_requests_in_progress", "Journeys scheduled but not finished (queued or running).",
            registry=self.registry)
        self.scenario_active = Gauge(
            "loadgen_scenario_active", "1 while a fault scenario started by the load generator is active.",
            ["scenario"], registry=self.registry)
        # Pre-create every series so rates and dashboards never start from "no data".
        for journey in journeys:
            self.latency.labels(journey)
            for outcome in outcomes:
                self.requests.labels(journey, outcome)
        for scenario in scenarios:
            self.scenario_active.labels(scenario).set(0)

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of the registry, without `_created` series: (body bytes, content type)."""
        return generate_latest(_WithoutCreated(self.registry)), CONTENT_TYPE_LATEST


class _WithoutCreated:
    """A registry's families minus the `_created` samples of counters and histograms.

    Our gunicorn services expose none (multiprocess mode has no `_created`); here they would double the
    exposition for series no panel or rule reads. Filtered at the exposition, not by prometheus_client's
    process-wide switch, so the load generator's /metrics is the same whichever entry point built it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self):
        for family in self.registry.collect():
            family.samples = [sample for sample in family.samples if sample.name != family.name + "_created"]
            yield family
