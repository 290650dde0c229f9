"""From an exemplar to its trace on the native stack: the trace id Prometheus stores as an exemplar of the shop's
request histogram resolves in Zipkin to one trace with spans of shop and payments (issue 16's acceptance, without
the load generator's journey span, which loadgen does not send yet).
"""
import time
import uuid

import pytest
import requests

from launcher.stack import Stack
from processes.waiting import poll_until

CARD = "4242424242424242"


@pytest.fixture
def stack(tmp_path):
    with Stack(str(tmp_path / "stack"), services=["zipkin", "payments", "shop", "prometheus"], fast=True,
               loadgen_rate=0) as running:
        yield running


def exemplar_trace_ids(prometheus, selector):
    """Every trace id of the exemplars Prometheus holds for `selector` over the last ten minutes."""
    now = time.time()
    answer = requests.get(prometheus + "/api/v1/query_exemplars", timeout=5,
                          params={"query": selector, "start": now - 600, "end": now + 60}).json()
    assert answer["status"] == "success", answer
    return {exemplar["labels"]["trace_id"] for series in answer["data"] for exemplar in series["exemplars"]
            if "trace_id" in exemplar["labels"]}


@pytest.mark.timeout(300)
def test_a_checkouts_exemplar_trace_id_resolves_in_zipkin_to_spans_of_shop_and_payments(stack):
    prometheus, shop, zipkin = stack.url("prometheus"), stack.url("shop"), stack.url("zipkin")
    trace_id = uuid.uuid4().hex
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}  # sampled, as a traced caller sends
    cart = requests.post(shop + "/api/carts", headers=headers, timeout=10).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, headers=headers,
                  timeout=10)
    assert requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, headers=headers,
                         timeout=10).status_code in (201, 402)  # a random decline (402) reached payments too
    poll_until(lambda: trace_id in exemplar_trace_ids(prometheus, "shop_http_request_duration_seconds_bucket"),
               "the checkout's trace id among the exemplars of shop_http_request_duration_seconds", 60)

    def services_in_trace():
        answer = requests.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=5)
        return answer.ok and {span["localEndpoint"]["serviceName"] for span in answer.json()} >= {"shop", "payments"}
    poll_until(services_in_trace, f"trace {trace_id} in Zipkin with spans of shop and payments", 60)
    spans = requests.get(f"{zipkin}/api/v2/trace/{trace_id}", timeout=5).json()
    assert {span["traceId"] for span in spans} == {trace_id}, "one trace, the exemplar's"
