"""Exemplars on the native stack: the pinned Prometheus scrapes every service in OpenMetrics and stores the trace
id of a sampled checkout, from the shop's request and payments-call histograms and from payments' own.

The stack runs without Zipkin here: the trace id is the W3C `traceparent` the test sends, and the shop passes it on
to payments even with tracing off, so one checkout leaves the same trace id in both services' exemplars (exemplars
do not depend on a trace backend; tests/stack/test_traces_native.py follows one into Zipkin).
"""
import time
import uuid

import pytest
import requests

from launcher.stack import Stack
from processes.waiting import poll_until
from tests.helpers.prometheus_api import instant_query

CARD = "4242424242424242"


@pytest.fixture
def stack(tmp_path):
    with Stack(str(tmp_path / "stack"), services=["payments", "shop", "inbox", "prometheus"], fast=True,
               loadgen_rate=0) as running:
        yield running


def exemplar_series(prometheus, selector, trace_id):
    """Names of the series of `selector` holding an exemplar with this trace id."""
    now = time.time()
    answer = requests.get(prometheus + "/api/v1/query_exemplars", timeout=5,
                          params={"query": selector, "start": now - 600, "end": now + 60}).json()
    assert answer["status"] == "success", answer
    return {series["seriesLabels"]["__name__"] for series in answer["data"]
            if any(exemplar["labels"].get("trace_id") == trace_id for exemplar in series["exemplars"])}


@pytest.mark.timeout(300)
def test_a_sampled_checkouts_trace_id_is_stored_as_exemplars_of_shop_and_payments(stack):
    prometheus, shop = stack.url("prometheus"), stack.url("shop")
    # Every service answers Prometheus's OpenMetrics request: all their targets are up.
    poll_until(lambda: {sample["metric"]["job"] for sample in instant_query(prometheus, "up == 1")}
               >= {"shop", "payments", "inbox"}, "shop, payments and inbox targets to be up", 60)
    trace_id = uuid.uuid4().hex
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    cart = requests.post(shop + "/api/carts", headers=headers, timeout=10).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, headers=headers,
                  timeout=10)
    assert requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, headers=headers,
                         timeout=10).status_code in (201, 402)  # a random decline (402) reached payments too
    wanted = {"shop_http_request_duration_seconds_bucket", "shop_dependency_request_duration_seconds_bucket",
              "payments_http_request_duration_seconds_bucket"}
    selector = '{__name__=~"shop_http_request_duration_seconds_bucket|shop_dependency_request_duration_seconds_bucket' \
               '|payments_http_request_duration_seconds_bucket"}'
    poll_until(lambda: exemplar_series(prometheus, selector, trace_id) >= wanted,
               "the checkout's trace id in the exemplars of shop's request and payments-call histograms and of "
               "payments' request histogram", 60)
