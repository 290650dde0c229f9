"""Tracing under real gunicorn: spans of shop and payments reach a Zipkin v2 endpoint as one trace.

shop and payments under gunicorn (2 workers each) export Zipkin JSON v2 to a small local receiver (a real
HTTP server storing what is POSTed to /api/v2/spans, as Zipkin's server accepts it). A checkout with a
sampled traceparent must arrive as one trace holding the shop's server and client spans and payments'
server span, the latter a child of the former. The workers are replaced (SIGHUP) right after the request:
the spans arrive sooner than the batch processor's 5 s schedule, flushed on worker exit.
"""
import os
import random
import signal
import uuid

import pytest
import requests

from app.common import tracing
from loadgen import journeys
from processes.waiting import poll_until
from tests.helpers.servers import shop_and_payments
from tests.helpers.span_receiver import traced_services_env

TOKEN = "tracing-token"
CARD = "4242424242424242"


@pytest.fixture(scope="module")
def services(tmp_path_factory, receiver):
    endpoint, _ = receiver
    shop_env, payments_env = traced_services_env(endpoint)
    with shop_and_payments(str(tmp_path_factory.mktemp("tracing")), TOKEN,
                           payments_env=payments_env, shop_env=shop_env) as services:
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


def test_a_journey_of_the_load_generator_is_the_root_of_its_trace(services, receiver, monkeypatch):
    """The trace starts where the user does: the load generator's `journey checkout` span is the root, each of
    its calls a client span, and the shop's server spans hang below them (W3C traceparent)."""
    endpoint, spans = receiver
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)
    loadgen_tracing = tracing.Tracing("loadgen", ratio=1.0)
    shop = journeys.ShopClient(services["shop"], tracer=loadgen_tracing, rng=random.Random(7))
    before = len(spans)
    assert journeys.run_journey(shop, "checkout") == "ok"
    loadgen_tracing.shutdown()  # flush the batch processor now
    os.kill(services["shop_process"].pid, signal.SIGHUP)  # and the shop's workers (worker_exit)

    def journey_trace():
        roots = [s for s in list(spans)[before:] if s["localEndpoint"]["serviceName"] == "loadgen"
                 and s["name"] == "journey checkout"]
        if not roots:
            return None
        mine = [s for s in list(spans) if s["traceId"] == roots[0]["traceId"]]
        services_seen = {s["localEndpoint"]["serviceName"] for s in mine}
        return (roots[0], mine) if {"loadgen", "shop", "payments"} <= services_seen else None
    root, mine = poll_until(journey_trace, "a checkout journey's spans from loadgen, shop and payments", 30)
    assert "parentId" not in root and root["tags"]["outcome"] == "ok"
    calls = {s["id"]: s for s in mine if s["localEndpoint"]["serviceName"] == "loadgen" and s.get("kind") == "CLIENT"}
    assert calls and all(call["parentId"] == root["id"] for call in calls.values())
    checkout = [s for s in mine if s["localEndpoint"]["serviceName"] == "shop"
                and s["name"].lower() == "post /api/carts/<cart_id>/checkout"]
    assert checkout and checkout[0]["parentId"] in calls, "the shop's checkout span is not a child of a loadgen call"
