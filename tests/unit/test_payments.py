"""Unit tests for the fake payments service (Flask test client)."""
import time

import pytest

from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample
from tests.helpers.servers import TEST_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CHARGE = {"order_ref": "cart-1", "amount_cents": 1234, "card_number": "4242424242424242"}


@pytest.fixture
def client(payments_app):
    payments_app.config["DECLINE_RATIO"] = 0.0
    return payments_app.test_client()


def test_quote_is_stable_per_product(client):
    first = client.get("/quotes?product_id=5&quantity=2").get_json()
    assert first == client.get("/quotes?product_id=5&quantity=2").get_json()
    assert first["available"] >= 20 and first["quantity"] == 2


@pytest.mark.parametrize("query", ["", "?product_id=x", "?product_id=0", "?product_id=1&quantity=0"])
def test_quote_rejects_bad_query(client, query):
    assert_error(client.get("/quotes" + query, headers={"Accept": "application/json"}), 400, "invalid_query")


def test_charge_is_idempotent_per_key(client):
    approved = sample("payments_charges_total", result="approved")
    first = client.post("/charges", json=CHARGE, headers={"Idempotency-Key": "k-1"}).get_json()
    retry = client.post("/charges", json=CHARGE, headers={"Idempotency-Key": "k-1"}).get_json()
    assert first == retry and first["status"] == "approved"
    assert sample("payments_charges_total", result="approved") == approved + 1
    exported = client.get("/charges?since=0").get_json()["charges"]
    assert [c["id"] for c in exported].count(first["charge_id"]) == 1


def test_test_card_is_declined_with_a_reason(client):
    declined = client.post("/charges", json={**CHARGE, "card_number": "4000000000000002"}).get_json()
    assert declined["status"] == "declined" and declined["decline_reason"] == "card_expired"


@pytest.mark.parametrize("body, code", [
    ({}, "invalid_order_ref"), ({**CHARGE, "amount_cents": 0}, "invalid_amount"),
    ({**CHARGE, "amount_cents": "5"}, "invalid_amount"), ({**CHARGE, "card_number": "42"}, "invalid_card_number"),
    ({**CHARGE, "order_ref": ""}, "invalid_order_ref"), ([1], "invalid_json"),
])
def test_charge_rejects_bad_input(client, body, code):
    assert_error(client.post("/charges", json=body), 400, code)


def test_error_fault_fails_requests_and_spares_ops_routes(client):
    client.put("/admin/faults/errors", json={"ratio": 1.0, "duration_seconds": 30}, headers=AUTH)
    assert client.get("/quotes?product_id=1").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert 'payments_fault_active{fault="errors"} 1.0' in client.get("/metrics").data.decode()
    client.delete("/admin/faults/errors", headers=AUTH)
    assert client.get("/quotes?product_id=1").status_code == 200


def test_latency_fault_adds_latency(client):
    client.put("/admin/faults/latency", json={"median_seconds": 0.2, "sigma": 0.0}, headers=AUTH)
    started = time.perf_counter()
    client.get("/quotes?product_id=1")
    assert time.perf_counter() - started >= 0.2


def test_export_errors_fault_breaks_only_the_export(client):
    client.put("/admin/faults/export_errors", json={}, headers=AUTH)
    assert client.get("/charges").status_code == 500
    assert client.post("/charges", json=CHARGE).status_code == 200


def test_admin_needs_token(client):
    assert_error(client.put("/admin/faults/refuse", json={}), 401, "unauthorized")
    assert_error(client.put("/admin/faults/refuse", json={}, headers={"Authorization": "Bearer nope"}), 401,
                 "unauthorized")


@pytest.mark.parametrize("change", [{"amount_cents": 9999}, {"card_number": "5555555555554444"},
                                    {"order_ref": "cart-2"}])
def test_a_key_reused_with_another_amount_card_or_order_is_409_not_the_old_answer(client, change):
    approved = sample("payments_charges_total", result="approved")
    first = client.post("/charges", json=CHARGE, headers={"Idempotency-Key": "k-bound"})
    assert first.status_code == 200 and first.get_json()["amount_cents"] == CHARGE["amount_cents"]
    reused = client.post("/charges", json={**CHARGE, **change}, headers={"Idempotency-Key": "k-bound"})
    assert_error(reused, 409, "idempotency_key_reused")
    assert client.post("/charges", json=CHARGE, headers={"Idempotency-Key": "k-bound"}).get_json() \
        == first.get_json()
    assert sample("payments_charges_total", result="approved") == approved + 1
