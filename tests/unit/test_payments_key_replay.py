"""A reused Idempotency-Key replays its charge only for the same request, also for keys stored before binding."""
import hashlib
import time

import pytest

from tests.helpers.errors import assert_error
from tests.helpers.shop_checkout import execute_sql

CHARGE = {"order_ref": "cart-7", "amount_cents": 1234, "card_number": "4242424242424242"}
REUSED_KEY_MESSAGE = ("This Idempotency-Key was already used for a charge with a different order, amount or card; "
                      "send a new key for a different charge.")


@pytest.fixture
def client(payments_app):
    payments_app.config["DECLINE_RATIO"] = 0.0
    return payments_app.test_client()


@pytest.fixture
def legacy_key(payments_app):
    """A key stored by a release that did not bind keys to their request (request_hash NULL)."""
    execute_sql(payments_app.config["DATABASE"],
                "INSERT INTO charges VALUES ('ch_legacy', 'k-legacy', 'cart-7', 1234, 'approved', NULL, ?, NULL)",
                (time.time(),))
    return "k-legacy"


def test_legacy_key_replays_its_charge_for_the_same_amount(client, legacy_key):
    # Only the amount was stored with such a key: another card or order cannot be told apart.
    for body in (CHARGE, {**CHARGE, "card_number": "5555555555554444"}):
        replayed = client.post("/charges", json=body, headers={"Idempotency-Key": legacy_key})
        assert replayed.status_code == 200
        assert replayed.get_json() == {"charge_id": "ch_legacy", "status": "approved", "decline_reason": None,
                                       "amount_cents": 1234}


def test_legacy_key_with_another_amount_is_409_not_the_old_charge(client, legacy_key):
    body = assert_error(client.post("/charges", json={**CHARGE, "amount_cents": 999},
                                    headers={"Idempotency-Key": legacy_key}), 409, "idempotency_key_reused")
    assert body["message"] == REUSED_KEY_MESSAGE


def test_reused_key_message_tells_the_client_to_send_a_new_key(client):
    assert client.post("/charges", json=CHARGE, headers={"Idempotency-Key": "k-bound"}).status_code == 200
    body = assert_error(client.post("/charges", json={**CHARGE, "card_number": "5555555555554444"},
                                    headers={"Idempotency-Key": "k-bound"}), 409, "idempotency_key_reused")
    assert body["message"] == REUSED_KEY_MESSAGE


def test_the_request_fingerprint_keeps_its_stored_format():
    """Fingerprints are stored with the charge: a release that computed them differently would refuse every retry
    of a charge stored before it (409 idempotency_key_reused) instead of replaying it."""
    from app.payments.api import request_hash
    stored_by_earlier_releases = hashlib.sha256(b'["cart-7",1234,"4242424242424242"]').hexdigest()
    assert request_hash("cart-7", 1234, "4242424242424242") == stored_by_earlier_releases
