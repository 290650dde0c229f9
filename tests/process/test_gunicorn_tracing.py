"""Tracing under real gunicorn: spans of shop and payments reach a Zipkin v2 endpoint as one trace.

shop and payments under gunicorn (2 workers each) export Zipkin JSON v2 to a small local receiver (a real
HTTP server storing what is POSTed to /api/v2/spans, as Zipkin's server accepts it). A checkout with a
sampled traceparent must arrive as one trace holding the shop's server and client spans and payments'
server span, the latter a child of the former. The workers are replaced (SIGHUP) right after the request:
the spans arrive sooner than the batch processor's 5 s schedule, flushed on worker exit.
"""
import os
import signal
import threading
import uuid

import pytest
import requests
from flask import Flask, request

from processes.waiting import poll_until
from tests.helpers.servers import ThreadedServer, shop_and_payments

TOKEN = "tracing-token"
CARD = "4242424242424242"


@pytest.fixture(scope="module")
def receiver():
    """A Zipkin v2 span receiver: every span POSTed, in a list."""
    spans, lock = [], threading.Lock()
    app = Flask("zipkin-receiver")

    @app.post("/api/v2/spans")
    def receive():
        with lock:
            spans.extend(request.get_json())
        return "", 202
    with ThreadedServer(app) as server:
        yield server.url + "/api/v2/spans", spans


@pytest.fixture(scope="module")
def services(tmp_path_factory, receiver):
    endpoint, _ = receiver
    env = {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": endpoint, "TRACING_SAMPLE_RATIO": "1.0"}
    with shop_and_payments(str(tmp_path_factory.mktemp("tracing")), TOKEN, payments_env=env,
                           shop_env=env) as services:
        yield services


def test_a_checkout_arrives_as_one_trace_from_both_services(services, receiver):
    _, spans = receiver
    shop = services["shop"]
    trace_id = uuid.uuid4().hex
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    cart = requests.post(shop + "/api/carts", headers=headers, timeout=10).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, headers=headers,
                  timeout=10)
    assert requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, headers=headers,
                         timeout=10).status_code == 201
    # Replace the workers: worker_exit flushes what the batch processor still holds.
    os.kill(services["shop_process"].pid, signal.SIGHUP)
    os.kill(services["payments_process"].pid, signal.SIGHUP)

    def whole_trace():
        mine = [span for span in list(spans) if span["traceId"] == trace_id]
        names = {(span["localEndpoint"]["serviceName"], span["name"]) for span in mine}
        wanted = {("shop", "post /api/carts/<cart_id>/checkout"), ("shop", "payments charge"),
                  ("payments", "post /charges")}
        return mine if wanted <= {(service, name.lower()) for service, name in names} else None
    mine = poll_until(whole_trace, "the checkout's spans from shop and payments to reach the receiver", 30)
    by_name = {(span["localEndpoint"]["serviceName"], span["name"].lower()): span for span in mine}
    charge = by_name[("shop", "payments charge")]
    assert by_name[("payments", "post /charges")]["parentId"] == charge["id"]
    assert charge["kind"] == "CLIENT"
