"""Tracing (app/common/tracing.py, request_spans.py) with the SDK's in-memory exporter: spans, propagation, ids.

The shop runs against a real payments app served on a local thread (tests/helpers/servers.py), so the
traceparent crosses a real HTTP call.
"""
import json
import os

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.common import exemplar_files, tracing
from tests.helpers.servers import TEST_TOKEN, ThreadedServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
CARD = "4242424242424242"


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def traced_apps(tmp_path, exporter):
    """payments (served on a thread) and a shop calling it, both recording into one in-memory exporter."""
    from app.payments import create_app as payments_app
    from app.shop import create_app as shop_app
    payments = payments_app({"TESTING": True, "DATA_DIR": str(tmp_path / "payments"), "FAULT_TOKEN": TEST_TOKEN,
                             "CHARGE_MEDIAN_SECONDS": 0.001, "QUOTE_MEDIAN_SECONDS": 0.001,
                             "TRACING_EXPORTER": exporter})
    with ThreadedServer(payments) as server:
        shop = shop_app({"TESTING": True, "DATA_DIR": str(tmp_path / "shop"), "FAULT_TOKEN": TEST_TOKEN,
                         "PAYMENTS_URL": server.url, "TRACING_EXPORTER": exporter})
        yield shop, payments


def spans_by_name(exporter):
    return {span.name: span for span in exporter.get_finished_spans()}


def checkout(client, headers=None):
    cart = client.post("/api/carts", headers=headers).get_json()["id"]
    client.post(f"/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, headers=headers)
    return client.post(f"/api/carts/{cart}/checkout", json={"card_number": CARD}, headers=headers)


def test_a_checkout_is_one_trace_across_shop_and_payments(traced_apps, exporter):
    shop, _ = traced_apps
    response = checkout(shop.test_client(), {"traceparent": TRACEPARENT})
    assert response.status_code == 201, response.get_data(as_text=True)
    spans = exporter.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in spans} == {TRACE}
    by_name = spans_by_name(exporter)
    server = by_name["POST /api/carts/<cart_id>/checkout"]
    charge = by_name["payments charge"]
    payments_server = next(span for span in spans if span.resource.attributes["service.name"] == "payments"
                           and span.name.startswith("POST /charges"))
    assert server.kind == SpanKind.SERVER and server.parent.span_id == 0x00f067aa0ba902b7
    assert charge.kind == SpanKind.CLIENT and charge.parent.span_id == server.context.span_id
    assert payments_server.parent.span_id == charge.context.span_id, "the traceparent crossed the HTTP call"
    assert charge.attributes["outcome"] == "ok"
    assert any(span.name.startswith("db ") and span.parent.span_id == server.context.span_id for span in spans)
    assert server.attributes["http.response.status_code"] == 201


def test_a_request_without_traceparent_starts_a_sampled_root(traced_apps, exporter):
    shop, _ = traced_apps
    assert shop.test_client().get("/api/products/1").status_code == 200
    by_name = spans_by_name(exporter)
    server = by_name["GET /api/products/<int:product_id>"]
    assert server.parent is None and server.context.trace_flags.sampled
    assert "compute recommendations" in by_name and "db select_product" in by_name


def test_the_exemplar_and_the_log_line_carry_the_spans_ids(traced_apps, exporter, capsys):
    shop, _ = traced_apps
    assert shop.test_client().get("/api/products").status_code == 200
    server = spans_by_name(exporter)["GET /api/products"]
    trace_id, span_id = format(server.context.trace_id, "032x"), format(server.context.span_id, "016x")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    request_line = next(line for line in lines if line.get("path") == "/api/products")
    assert (request_line["trace_id"], request_line["span_id"]) == (trace_id, span_id)
    held = exemplar_files.merge(exemplar_files.files(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    assert any(trace.hex() == trace_id for _value, _stamp, trace in held.values())


def test_an_unsampled_caller_records_nothing_and_leaves_no_exemplar(traced_apps, exporter):
    shop, _ = traced_apps
    unsampled = "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-00f067aa0ba902b7-00"
    assert shop.test_client().get("/api/products", headers={"traceparent": unsampled}).status_code == 200
    assert exporter.get_finished_spans() == ()
    held = exemplar_files.merge(exemplar_files.files(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
    assert not any(trace.hex() == "a" * 32 for _value, _stamp, trace in held.values())


def test_a_fault_acting_adds_an_event_to_the_span(traced_apps, exporter):
    shop, _ = traced_apps
    client = shop.test_client()
    switched = client.put("/admin/faults/slow_code", json={"extra_seconds": 0.01, "duration_seconds": 60},
                          headers={"Authorization": f"Bearer {TEST_TOKEN}"})
    assert switched.status_code in (200, 201), switched.get_data(as_text=True)
    assert client.get("/api/products").status_code == 200
    compute = spans_by_name(exporter)["compute catalog"]
    assert [event.name for event in compute.events] == ["fault slow_code"]


def test_without_an_exporter_the_callers_context_still_reaches_exemplars_and_logs(shop_app, capsys):
    """No backend configured: no spans, but the caller's sampled trace id is the request's (exemplar, log)."""
    assert not shop_app.extensions["tracing"].enabled
    assert shop_app.test_client().get("/api/products", headers={"traceparent": TRACEPARENT}).status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert next(line for line in lines if line.get("path") == "/api/products")["trace_id"] == TRACE


@pytest.mark.parametrize("text, ratio", [("", 1.0), ("0.01", 0.01), ("0", 0.0), ("1", 1.0)])
def test_sample_ratio_from_the_environment(text, ratio):
    assert tracing.sample_ratio({tracing.RATIO_VARIABLE: text}) == ratio


@pytest.mark.parametrize("text", ["1.5", "-0.1", "half", "nan"])
def test_a_bad_sample_ratio_is_refused_with_a_sentence(text):
    with pytest.raises(ValueError, match="must be a number from 0 to 1"):
        tracing.sample_ratio({tracing.RATIO_VARIABLE: text})


def test_a_ratio_of_zero_keeps_no_root_but_follows_a_sampled_caller(exporter):
    instance = tracing.Tracing("t", exporter=exporter, ratio=0.0)
    with instance.tracer().start_as_current_span("root") as root:
        assert not root.get_span_context().trace_flags.sampled
    parent = tracing.extract({"traceparent": TRACEPARENT})
    with instance.tracer().start_as_current_span("child", context=parent) as child:
        assert child.get_span_context().trace_flags.sampled
    assert [span.name for span in exporter.get_finished_spans()] == ["child"]
    instance.shutdown()
