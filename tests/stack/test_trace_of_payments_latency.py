"""From a slow request's exemplar to the call that made it slow (issue 16's acceptance for `payments-latency`).

The native stack with the load generator sending traffic; the catalog's `payments-latency` scenario switches on
payments' `latency` knob with the catalog's parameters. An exemplar of the shop's request histogram above 0.25 s,
stored while the fault is on, must lead in Zipkin to a trace whose shop span calling payments (kind CLIENT) lasts
at least the injected latency: the catalog's median, and the seconds payments' own span says it added
(its `fault latency` event). The fault is switched off in a `finally`.
"""
import json
import time

import pytest

from launcher.stack import Stack
from loadgen.catalog import load_catalog
from loadgen.config import Urls
from loadgen.fault_api import FaultApi
from processes.waiting import poll_until
from tests.helpers import exemplar_traces

SCENARIO = load_catalog()["payments-latency"]
REQUESTS = "shop_http_request_duration_seconds_bucket"
SLOW_SECONDS = 0.25  # what counts as a slow request here: well above the shop's own baseline
WHOLE_AFTER_SECONDS = 20  # a trace's spans are all in Zipkin by then (every service sends in 5 s batches)
FAULT_SECONDS = 120  # the knob ends by itself after this, should even the `finally` not run


@pytest.fixture
def stack(tmp_path):
    with Stack(str(tmp_path / "stack"), services=["zipkin", "payments", "shop", "prometheus", "loadgen"], fast=True,
               loadgen_rate=5) as running:
        yield running


def injected_seconds(span):
    """The latency payments says it added in this span (its `fault latency` event), or None."""
    for annotation in span.get("annotations", []):
        try:
            event = json.loads(annotation["value"])
        except ValueError:
            continue
        if isinstance(event, dict) and "fault latency" in event:
            return float(event["fault latency"]["seconds"])
    return None


def slow_payments_call(spans):
    """(the shop's CLIENT span to payments, the latency payments added below it) of a call that took at least
    that long and at least the scenario's median, or None."""
    children = {}
    for span in spans:
        children.setdefault(span.get("parentId"), []).append(span)
    for call in spans:
        # The shop names its calls `payments <operation>` (app/shop/payments_client.py); its db spans are CLIENTs too.
        if call["localEndpoint"]["serviceName"] != "shop" or call.get("kind") != "CLIENT" \
                or not call["name"].lower().startswith("payments "):
            continue
        added = [injected_seconds(child) for child in children.get(call["id"], [])
                 if child["localEndpoint"]["serviceName"] == "payments"]
        added = [seconds for seconds in added if seconds is not None]
        duration = call.get("duration", 0) / 1e6  # Zipkin's are microseconds
        if added and duration >= max(added) and duration >= SCENARIO.params["median_seconds"]:
            return call, max(added)
    return None


@pytest.mark.timeout(240)
def test_a_slow_requests_exemplar_leads_to_the_slow_call_to_payments(stack):
    assert SCENARIO.service == "payments" and SCENARIO.knob == "latency", SCENARIO
    prometheus, zipkin = stack.url("prometheus"), stack.url("zipkin")
    faults = FaultApi(Urls(payments=stack.url("payments"), fault_token=stack.fault_token))
    since = time.time()
    faults.switch_on(SCENARIO.service, SCENARIO.knob, SCENARIO.params, FAULT_SECONDS)
    try:
        first_seen = {}

        def a_slow_trace():
            for exemplar in exemplar_traces.exemplars(prometheus, REQUESTS, since):
                seen = first_seen.setdefault(exemplar.trace_id, time.monotonic())
                if exemplar.value <= SLOW_SECONDS or time.monotonic() - seen > WHOLE_AFTER_SECONDS:
                    continue  # not slow, or its trace was whole long ago and had no slow call to payments
                spans = exemplar_traces.trace(zipkin, exemplar.trace_id)
                found = slow_payments_call(spans)
                if found:
                    return exemplar, spans, found
            return None
        exemplar, spans, (call, added) = poll_until(
            a_slow_trace, f"an exemplar above {SLOW_SECONDS} s whose trace has a call to payments lasting the "
                          f"injected latency ({SCENARIO.name}: median {SCENARIO.params['median_seconds']} s)",
            120, interval=1)
    finally:
        faults.switch_off(SCENARIO.service, SCENARIO.knob)
    assert {span["traceId"] for span in spans} == {exemplar.trace_id}, "one trace, the exemplar's"
    assert call["duration"] / 1e6 >= added >= 0.0
