"""Choosing each scenario's example trace from spans as Zipkin's API returns them (loadgen/trace_examples.py)."""
import pytest

from loadgen import trace_examples
from loadgen.catalog import load_catalog
from processes.ports import free_port

CATALOG = dict(load_catalog())


def span(trace, service, name, micros, kind=None, error=None, span_id="1"):
    """One span in Zipkin's v2 JSON, as GET /api/v2/traces returns it (names in lower case)."""
    found = {"traceId": trace, "id": span_id, "name": name, "timestamp": 1714557600000000, "duration": micros,
             "localEndpoint": {"serviceName": service, "ipv4": "127.0.0.1"}, "tags": {"http.route": "/x"}}
    if kind:
        found["kind"] = kind
    if error is not None:
        found["tags"]["error"] = error
    return found


def checkout_trace(trace, payments_micros, error=None):
    """A checkout: loadgen's journey, the shop's server span, its client span to payments, payments' server span."""
    return [span(trace, "loadgen", "journey checkout", payments_micros + 40_000, span_id="a"),
            span(trace, "shop", "post /carts/<cart_id>/checkout", payments_micros + 20_000, "SERVER", span_id="b"),
            span(trace, "shop", "payments charge", payments_micros + 2_000, "CLIENT", error, span_id="c"),
            span(trace, "payments", "post /charges", payments_micros, "SERVER", span_id="d")]


def test_payments_latency_names_the_longest_call_at_least_the_injected_median():
    median = CATALOG["payments-latency"].params["median_seconds"]
    cause = trace_examples.cause_of(CATALOG["payments-latency"])
    assert cause.min_seconds == median and cause.service == "payments"
    fast, slow, slower = (checkout_trace(t, int(s * 1e6)) for t, s in
                          (("t-fast", median / 4), ("t-slow", median * 1.1), ("t-slower", median * 1.5)))
    chosen = trace_examples.choose([fast, slow, slower], cause)
    assert (chosen["trace_id"], chosen["service"], chosen["span"], chosen["kind"]) == \
        ("t-slower", "shop", "payments charge", "CLIENT")
    assert chosen["duration_seconds"] >= median
    assert trace_examples.choose([fast], cause) is None, "no call lasted the injected latency"


def test_without_the_shops_span_payments_own_server_span_shows_the_latency():
    cause = trace_examples.cause_of(CATALOG["payments-latency"])
    only_payments = [span("t-p", "payments", "get /quotes", 900_000, "SERVER")]
    assert trace_examples.choose([only_payments], cause)["span"] == "get /quotes"


def test_shop_slow_code_names_a_slow_catalog_compute_span():
    extra = CATALOG["shop-slow-code"].params["extra_seconds"]
    cause = trace_examples.cause_of(CATALOG["shop-slow-code"])
    trace = [span("t-c", "shop", "get /products", int(extra * 1e6) + 30_000, "SERVER", span_id="a"),
             span("t-c", "shop", "compute recommendations", int(extra * 1e6) + 10_000, span_id="b"),
             span("t-c", "shop", "compute catalog", int(extra * 1e6) + 5_000, span_id="c")]
    chosen = trace_examples.choose([trace], cause)
    assert (chosen["span"], chosen["duration_seconds"]) == ("compute catalog", round(extra + 0.005, 3))
    assert trace_examples.search_for(cause, 0, 60).span_name == "compute catalog"


@pytest.mark.parametrize("name", ["payments-errors", "payments-outage"])
def test_payments_failures_name_the_shops_failed_call(name):
    cause = trace_examples.cause_of(CATALOG[name])
    ok, failed = checkout_trace("t-ok", 5_000), checkout_trace("t-failed", 3_000, error="server_error: 503")
    chosen = trace_examples.choose([ok, failed], cause)
    assert (chosen["trace_id"], chosen["span"], chosen["error"]) == ("t-failed", "payments charge",
                                                                     "server_error: 503")
    assert trace_examples.search_for(cause, 0, 60).annotation_query == "error"


def test_a_bad_deploy_names_a_failed_shop_request():
    cause = trace_examples.cause_of(CATALOG["bad-deploy"])
    trace = [span("t-b", "shop", "get /products", 4_000, "SERVER", error="")]
    assert trace_examples.choose([trace], cause)["span"] == "get /products"
    payments_failed = [span("t-p", "payments", "get /quotes", 4_000, "SERVER", error="")]
    assert trace_examples.choose([payments_failed], cause) is None, "payments' failure is not the shop's"


@pytest.mark.parametrize("name", ["checkout-silent-failure", "memory-leak", "traffic-spike",
                                  "alerting-pipeline-broken", "shop-down"])
def test_scenarios_no_span_shows_say_why(name):
    entry = trace_examples.example_trace("http://127.0.0.1:1", "http://localhost:9411", CATALOG[name], 0, 60)
    assert entry["trace_id"] is None and entry["note"].startswith("No ") and entry["note"].endswith(".")


def test_every_catalog_scenario_has_a_cause_or_a_reason():
    for scenario in CATALOG.values():
        cause = trace_examples.cause_of(scenario)
        assert cause != "No span is known to show this fault.", scenario.name


def test_without_zipkin_the_entry_says_no_trace_backend():
    entry = trace_examples.example_trace(f"http://127.0.0.1:{free_port()}", "http://localhost:9411",
                                         CATALOG["payments-latency"], 0, 60)
    assert entry["trace_id"] is None and entry["note"].startswith("No trace backend: Zipkin is unreachable")
    assert trace_examples.describe(entry) == entry["note"]


def test_the_reports_name_the_trace_its_span_duration_and_link():
    from loadgen import report, report_html
    chosen = trace_examples.choose([checkout_trace("4bf92f3577b34da6a3ce929d0e0e4736", 600_000)],
                                   trace_examples.cause_of(CATALOG["payments-latency"]))
    entry = {**chosen, "cause": "a slow call <b>", "note": None,
             "url": "http://localhost:9411/zipkin/traces/4bf92f3577b34da6a3ce929d0e0e4736"}
    scenario = report.empty_result(CATALOG["payments-latency"])
    scenario["example_trace"] = entry
    markdown = report.markdown({"started_at": "now", "passed": False, "duration_seconds": 1, "scenarios": [scenario]})
    assert ('- Example trace: Trace 4bf92f3577b34da6a3ce929d0e0e4736: shop span "payments charge" lasted 0.602 s '
            '(a slow call <b>); http://localhost:9411/zipkin/traces/4bf92f3577b34da6a3ce929d0e0e4736') in markdown
    page = report_html.example_trace(entry)
    assert 'href="http://localhost:9411/zipkin/traces/4bf92f3577b34da6a3ce929d0e0e4736"' in page
    assert "<code>payments charge</code> lasted <strong>0.602 s</strong>" in page and "&lt;b&gt;" in page
    assert "No trace backend" in report_html.example_trace({"trace_id": None, "note": "No trace backend: gone."})
