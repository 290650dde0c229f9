"""From an exemplar to its trace, on a running stack: Prometheus's /api/v1/query_exemplars, then Zipkin's trace."""
import time
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Exemplar:
    """One stored exemplar: the trace id it carries, the value observed and its series' labels."""
    trace_id: str
    value: float
    series: dict


def exemplars(prometheus: str, selector: str, since: float) -> list[Exemplar]:
    """The exemplars with a trace id Prometheus holds for `selector` from `since` (unix seconds), newest first."""
    answer = requests.get(prometheus + "/api/v1/query_exemplars", timeout=5,
                          params={"query": selector, "start": since, "end": time.time() + 60}).json()
    assert answer["status"] == "success", answer
    found = [(float(exemplar["timestamp"]), Exemplar(exemplar["labels"]["trace_id"], float(exemplar["value"]),
                                                     series["seriesLabels"]))
             for series in answer["data"] for exemplar in series["exemplars"] if "trace_id" in exemplar["labels"]]
    return [exemplar for _, exemplar in sorted(found, key=lambda pair: pair[0], reverse=True)]


def trace(zipkin: str, trace_id: str) -> list[dict]:
    """The spans Zipkin holds of one trace (none yet: an empty list)."""
    answer = requests.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=5)
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return answer.json()


def services(spans: list[dict]) -> set[str]:
    """The services that sent these spans."""
    return {span["localEndpoint"]["serviceName"] for span in spans}
