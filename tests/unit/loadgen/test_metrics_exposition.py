"""The load generator's /metrics body (loadgen/metrics.py): like the services', no `_created` series."""
from prometheus_client.parser import text_string_to_metric_families

from loadgen.metrics import LoadgenMetrics


def test_the_exposition_has_no_created_series_whatever_the_entry_point():
    """Built here, in a process that never switched prometheus_client's `_created` off."""
    metrics = LoadgenMetrics(journeys=["browse"], outcomes=["ok"], scenarios=["payments-errors"])
    metrics.requests.labels("browse", "ok").inc()
    metrics.latency.labels("browse").observe(0.2)
    metrics.intended.inc()
    body, _content_type = metrics.exposition()
    names = {sample.name for family in text_string_to_metric_families(body.decode()) for sample in family.samples}
    assert not {name for name in names if name.endswith("_created")}, sorted(names)
    assert {"loadgen_requests_total", "loadgen_request_latency_seconds_count", "loadgen_intended_requests_total",
            "loadgen_scenario_active"} <= names
