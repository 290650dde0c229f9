"""From an exemplar to its trace on the native stack, with the load generator sending traffic (issue 16's
acceptance): a trace id Prometheus stores as an exemplar of the shop's request histogram, on the checkout route,
resolves in Zipkin to ONE trace holding spans of the load generator, the shop and payments, rooted in the load
generator's `journey checkout` span.

Nothing but the load generator's own traffic: its journeys start the traces (sampled at the root, every one at
the default ratio), the shop records the trace id as an exemplar and passes it on to payments.
"""
import time

import pytest

from launcher.stack import Stack
from processes.waiting import poll_until
from tests.helpers import exemplar_traces

CHECKOUTS = 'shop_http_request_duration_seconds_bucket{route="/api/carts/<cart_id>/checkout"}'
TRACED = {"loadgen", "shop", "payments"}


@pytest.fixture
def stack(tmp_path):
    with Stack(str(tmp_path / "stack"), services=["zipkin", "payments", "shop", "prometheus", "loadgen"], fast=True,
               loadgen_rate=5) as running:
        yield running


@pytest.mark.timeout(240)
def test_a_checkout_exemplar_resolves_in_zipkin_to_one_trace_from_loadgen_shop_and_payments(stack):
    prometheus, zipkin = stack.url("prometheus"), stack.url("zipkin")
    since = time.time() - 60

    def a_whole_trace():
        # The newest first: an older trace's spans may all be in already, a new one's still queued (5 s batches).
        for exemplar in exemplar_traces.exemplars(prometheus, CHECKOUTS, since)[:20]:
            spans = exemplar_traces.trace(zipkin, exemplar.trace_id)
            if exemplar_traces.services(spans) >= TRACED:
                return exemplar, spans
        return None
    exemplar, spans = poll_until(a_whole_trace, "an exemplar of a checkout whose trace in Zipkin has spans of "
                                                "loadgen, shop and payments", 120, interval=1)
    assert {span["traceId"] for span in spans} == {exemplar.trace_id}, "one trace, the exemplar's"
    roots = [span for span in spans if "parentId" not in span]
    assert [(root["localEndpoint"]["serviceName"], root["name"]) for root in roots] == [("loadgen", "journey checkout")]
    by_id = {span["id"]: span for span in spans}
    checkout = [span for span in spans if span["localEndpoint"]["serviceName"] == "shop"
                and span["name"].lower() == "post /api/carts/<cart_id>/checkout"]
    assert checkout and by_id[checkout[0]["parentId"]]["localEndpoint"]["serviceName"] == "loadgen", \
        "the shop's checkout span is not a child of a load generator call"
    charges = [span for span in spans if span["localEndpoint"]["serviceName"] == "payments"]
    assert all(by_id[span["parentId"]]["localEndpoint"]["serviceName"] == "shop" for span in charges
               if span.get("kind") == "SERVER"), "payments' server spans hang below the shop's calls"
