"""payments' storage: one connection per request, and a key held by a stored charge keeps answering with it."""
import sqlite3
import time

import pytest

from app.payments import db


def test_a_request_uses_one_connection_however_often_it_asks(payments_app):
    with payments_app.test_request_context("/charges"):
        assert db.get_db() is db.get_db(), "each get_db() opened a new connection"


def test_the_request_connection_is_closed_when_the_request_ends(payments_app):
    with payments_app.test_request_context("/charges"):
        connection = db.get_db()
        connection.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        connection.execute("SELECT 1")


def test_a_charge_losing_its_key_to_a_stored_one_gets_the_stored_one(payments_app):
    with payments_app.test_request_context("/charges"):
        first = db.insert_charge("ch_first", "k-race", "cart-1", 500, "approved", None, time.time(), "hash-1")
        second = db.insert_charge("ch_second", "k-race", "cart-1", 500, "declined", "card_expired", time.time(),
                                  "hash-1")
        assert first["id"] == second["id"] == "ch_first"
        assert second["status"] == "approved", "the losing charge's decision replaced the stored one"
        assert db.get_db().execute("SELECT count(*) FROM charges WHERE idempotency_key = 'k-race'").fetchone()[0] == 1


def test_a_charge_without_a_key_is_stored_and_returned(payments_app):
    with payments_app.test_request_context("/charges"):
        stored = db.insert_charge("ch_keyless", None, "cart-2", 700, "approved", None, time.time(), None)
        assert (stored["id"], stored["amount_cents"], stored["idempotency_key"]) == ("ch_keyless", 700, None)
