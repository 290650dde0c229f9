"""payments: the fake downstream. Charges cards (with an occasional decline) and quotes stock.

Baseline latency is realistic (log-normal, tens of milliseconds), declines are
business outcomes (200 with status "declined"), and every fault knob acts at
one marked site in `_apply_faults` or the export route.
"""
import hashlib
import os
import random
import socket
import sqlite3
import time

from flask import Flask, Response, jsonify, request

from app.common.errors import ApiError
from app.common.faults import FaultStore
from app.common.service import data_dir, init_service
from app.payments import faults, metrics

VERSION = "3.1.0"
ALWAYS_DECLINED = {"4000000000000002": "card_expired", "4000000000009995": "insufficient_funds"}
DECLINE_REASONS = ("insufficient_funds", "card_expired", "suspected_fraud")
FAULT_FREE_PREFIXES = ("/metrics", "/healthz", "/admin")


def _lognormal_seconds(median, sigma=0.4):
    return median * random.lognormvariate(0.0, sigma)


def _connect(path):
    connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def create_app(config=None):
    """Build the payments service: defaults, PAYMENTS_-prefixed environment, then `config`."""
    app = Flask(__name__)
    app.config.from_mapping(VERSION=VERSION, MAX_CONTENT_LENGTH=8 * 1024, DECLINE_RATIO=0.04,
                            QUOTE_MEDIAN_SECONDS=0.012, CHARGE_MEDIAN_SECONDS=0.045)
    app.config.from_prefixed_env("PAYMENTS")
    app.config.update(config or {})
    directory = data_dir(app, "PAYMENTS_DATA_DIR")
    database = os.path.join(directory, "payments.sqlite3")
    connection = _connect(database)
    connection.execute("CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, "
                       "order_ref TEXT, amount_cents INTEGER, status TEXT, decline_reason TEXT, created_at REAL)")
    connection.close()
    app.fault_store = FaultStore(os.path.join(directory, "faults.json"))
    metrics.initialise()
    init_service(app, "payments", metrics, faults.KNOBS, app.fault_store)

    @app.before_request
    def _apply_faults():
        if request.path.startswith(FAULT_FREE_PREFIXES):
            return None
        store = app.fault_store
        if store.params(faults.REFUSE.name) is not None:
            # Drop the connection without a word: the client sees a connection error.
            sock = request.environ.get("gunicorn.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            raise ApiError(503, "refused", "The payment service is refusing connections.")
        hang = store.params(faults.HANG.name)
        if hang is not None:
            faults.hang(store, hang)
        latency = store.params(faults.LATENCY.name)
        if latency is not None:
            time.sleep(faults.added_latency(latency))
        errors = store.params(faults.ERRORS.name)
        if errors is not None and random.random() < errors["ratio"]:
            raise ApiError(503, "unavailable", "The payment service failed this request on purpose (fault: errors).")
        return None

    @app.after_request
    def _slow_responses(response):
        slow = app.fault_store.params(faults.SLOW_RESPONSES.name)
        if slow is None or request.path.startswith(FAULT_FREE_PREFIXES) or response.is_streamed:
            return response
        body = response.get_data()
        pause = slow["seconds"] / max(1, len(body))

        def trickle():
            for byte in body:
                time.sleep(pause)
                yield bytes([byte])
        streamed = Response(trickle(), status=response.status_code, content_type=response.content_type)
        streamed.headers["X-Request-ID"] = response.headers.get("X-Request-ID", "")
        return streamed

    def db():
        return _connect(database)

    @app.get("/quotes")
    def quote():
        try:
            product_id = int(request.args["product_id"])
            quantity = int(request.args.get("quantity", "1"))
        except (KeyError, ValueError):
            raise ApiError(400, "invalid_query", "product_id and quantity must be whole numbers.") from None
        if product_id < 1 or not 1 <= quantity <= 999:
            raise ApiError(400, "invalid_query", "product_id must be positive and quantity from 1 to 999.")
        time.sleep(_lognormal_seconds(app.config["QUOTE_MEDIAN_SECONDS"]))
        # Stock is a stable pseudo-random number per product, so quotes are repeatable.
        available = 20 + int(hashlib.sha256(str(product_id).encode()).hexdigest(), 16) % 180
        return jsonify(product_id=product_id, quantity=quantity, available=available)

    @app.post("/charges")
    def charge():
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
        order_ref, amount, card = body.get("order_ref"), body.get("amount_cents"), body.get("card_number")
        if not isinstance(order_ref, str) or not 1 <= len(order_ref) <= 100:
            raise ApiError(400, "invalid_order_ref", "order_ref must be a string of 1 to 100 characters.")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 10**9:
            raise ApiError(400, "invalid_amount", "amount_cents must be a positive whole number.")
        if not isinstance(card, str) or not card.isdigit() or not 12 <= len(card) <= 19:
            raise ApiError(400, "invalid_card_number", "card_number must be 12 to 19 digits.")
        key = request.headers.get("Idempotency-Key") or None
        time.sleep(_lognormal_seconds(app.config["CHARGE_MEDIAN_SECONDS"]))
        connection = db()
        try:
            if key:
                previous = connection.execute("SELECT * FROM charges WHERE idempotency_key = ?", (key,)).fetchone()
                if previous:  # a retry: answer the first decision again, never charge twice
                    return jsonify(charge_id=previous["id"], status=previous["status"],
                                   decline_reason=previous["decline_reason"])
            reason = ALWAYS_DECLINED.get(card)
            if reason is None and random.random() < app.config["DECLINE_RATIO"]:
                reason = random.choice(DECLINE_REASONS)
            status = "declined" if reason else "approved"
            charge_id = "ch_" + os.urandom(8).hex()
            connection.execute("INSERT OR IGNORE INTO charges VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (charge_id, key, order_ref, amount, status, reason, time.time()))
        finally:
            connection.close()
        metrics.CHARGES.labels(status).inc()
        if status == "approved":
            metrics.CHARGED_AMOUNT.inc(amount / 100)
        return jsonify(charge_id=charge_id, status=status, decline_reason=reason)

    @app.get("/charges")
    def export_charges():
        if app.fault_store.params(faults.EXPORT_ERRORS.name) is not None:
            raise RuntimeError("Injected fault: the charges export is broken (export_errors).")
        try:
            since = float(request.args.get("since", "0"))
        except ValueError:
            raise ApiError(400, "invalid_since", "since must be a unix time in seconds.") from None
        connection = db()
        try:
            rows = connection.execute(
                "SELECT id, order_ref, amount_cents, created_at FROM charges "
                "WHERE status = 'approved' AND created_at >= ? ORDER BY created_at", (since,)).fetchall()
        finally:
            connection.close()
        return jsonify(charges=[dict(row) for row in rows])

    return app
