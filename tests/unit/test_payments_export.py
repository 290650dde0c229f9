"""The reconcile export: approved charges only, from `since` inclusive, oldest first, with the fields it needs."""
import pytest

from tests.helpers.shop_checkout import execute_sql


@pytest.fixture
def client(payments_app):
    # Stored out of time order, and a declined charge among them.
    for charge_id, status, created_at in (("ch_late", "approved", 300.0), ("ch_early", "approved", 100.0),
                                          ("ch_declined", "declined", 250.0), ("ch_middle", "approved", 200.0)):
        execute_sql(payments_app.config["DATABASE"],
                    "INSERT INTO charges (id, idempotency_key, order_ref, amount_cents, status, created_at) "
                    "VALUES (?, ?, ?, 500, ?, ?)",
                    (charge_id, f"k-{charge_id}", f"cart-{charge_id}", status, created_at))
    return payments_app.test_client()


def test_export_lists_approved_charges_from_since_inclusive_oldest_first(client):
    charges = client.get("/charges?since=200").get_json()["charges"]
    assert charges == [
        {"id": "ch_middle", "order_ref": "cart-ch_middle", "amount_cents": 500, "created_at": 200.0},
        {"id": "ch_late", "order_ref": "cart-ch_late", "amount_cents": 500, "created_at": 300.0}]


def test_export_since_zero_has_every_approved_charge_and_no_declined_one(client):
    assert [charge["id"] for charge in client.get("/charges?since=0").get_json()["charges"]] == [
        "ch_early", "ch_middle", "ch_late"]
