"""payments' API: GET /quotes (stock), POST /charges (charge a card), GET /charges (the reconcile export).

Described in openapi.yaml, served at /openapi.json.

Baseline latency is realistic (log-normal, tens of milliseconds) and declines
are business outcomes (200 with status "declined"), not errors.
"""
import hashlib
import json
import os
import random
import time

import yaml
from flask import Blueprint, Response, current_app, jsonify, request

from app.common import tracing
from app.common.errors import ApiError
from app.common.faults import fault_store
from app.common.parsing import ascii_int, ascii_number, is_card_number, json_object_body
from app.payments import db, faults, metrics

ALWAYS_DECLINED = {"4000000000000002": "card_expired", "4000000000009995": "insufficient_funds"}
DECLINE_REASONS = ("insufficient_funds", "card_expired", "suspected_fraud")

# The same bounds as openapi.yaml: what the spec calls valid is accepted, anything else is a 400.
MAX_PRODUCT_ID = 2**31
MAX_IDEMPOTENCY_KEY_LENGTH = 200

bp = Blueprint("api", __name__)
OPENAPI_FILE = os.path.join(os.path.dirname(__file__), "openapi.yaml")
with open(OPENAPI_FILE) as _spec:
    OPENAPI = yaml.safe_load(_spec)


def _lognormal_seconds(median: float, sigma: float = 0.4) -> float:
    """A realistic service time around `median`: most answers near it, a few much slower."""
    factor = random.lognormvariate(0.0, sigma)
    # Dividing by the factor would be an equivalent mutant: 1/factor is lognormal(0, sigma) too, so median / factor
    # has exactly the distribution of median * factor (tests/unit/test_payments_api_edges.py pins the distribution).
    return median * factor  # pragma: no mutate (same distribution)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The API description (OpenAPI 3), for clients and the fuzz tests."""
    return jsonify(OPENAPI)


@bp.get("/quotes")
def quote() -> Response:
    """Stock for a product (the shop asks on product pages and before adding to a cart)."""
    product_id = ascii_int(request.args.get("product_id", ""))
    quantity = ascii_int(request.args.get("quantity", "1"))
    if product_id is None or quantity is None:
        raise ApiError(400, "invalid_query", "product_id and quantity must be whole numbers in ASCII digits.")
    if not 1 <= product_id <= MAX_PRODUCT_ID or not 1 <= quantity <= 999:
        raise ApiError(400, "invalid_query",
                       f"product_id must be from 1 to {MAX_PRODUCT_ID} and quantity from 1 to 999.")
    time.sleep(_lognormal_seconds(current_app.config["QUOTE_MEDIAN_SECONDS"]))
    # Stock is a stable pseudo-random number per product, so quotes are repeatable.
    available = 20 + int(hashlib.sha256(str(product_id).encode()).hexdigest(), 16) % 180
    return jsonify(product_id=product_id, quantity=quantity, available=available)


@bp.post("/charges")
def charge() -> Response:
    """Approve or decline a charge; a retry with the same Idempotency-Key gets the first answer again.

    A key is bound to the request it was first used with: the same key with a
    different order, amount or card is a 409, never the old answer.
    """
    body = json_object_body()
    order_ref, amount, card = body.get("order_ref"), body.get("amount_cents"), body.get("card_number")
    if not isinstance(order_ref, str) or not 1 <= len(order_ref) <= 100:
        raise ApiError(400, "invalid_order_ref", "order_ref must be a string of 1 to 100 characters.")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= 10**9:
        raise ApiError(400, "invalid_amount", "amount_cents must be a positive whole number.")
    if not is_card_number(card):
        raise ApiError(400, "invalid_card_number", "card_number must be 12 to 19 digits.")
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ApiError(400, "invalid_idempotency_key",
                       f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters.")
    fingerprint = request_hash(order_ref, amount, card)
    time.sleep(_lognormal_seconds(current_app.config["CHARGE_MEDIAN_SECONDS"]))
    if key:
        previous = db.charge_for_key(key)
        if previous:  # a retry: answer the first decision again, never charge twice
            return _replay(previous, fingerprint, amount)
    reason = ALWAYS_DECLINED.get(card)
    if reason is None and random.random() < current_app.config["DECLINE_RATIO"]:
        reason = random.choice(DECLINE_REASONS)
    status = "declined" if reason else "approved"
    charge_id = "ch_" + os.urandom(8).hex()
    stored = db.insert_charge(charge_id, key, order_ref, amount, status, reason, time.time(), fingerprint)
    if stored["id"] != charge_id:  # a simultaneous request with the same key stored its charge first
        return _replay(stored, fingerprint, amount)
    metrics.CHARGES.labels(status).inc()
    if status == "approved":
        metrics.CHARGED_AMOUNT.inc(amount / 100)
    return _answer(stored)


def request_hash(order_ref: str, amount_cents: int, card_number: str) -> str:
    """What an idempotency key is bound to: the fields that decide what is charged, to whom."""
    # The format is stored with each charge: it must never change. A list has no keys, so the key separator is unused.
    # (mutmut reads a pragma that ends a statement as marking the statement's first line: hence the lone brackets.)
    canonical = json.dumps([order_ref, amount_cents, card_number], separators=(",",
                                                                               ":",  # pragma: no mutate (unused)
                                                                               ))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer(row) -> Response:
    """A charge as the API shows it; the amount lets the caller check what was really charged."""
    # sqlite3.Row ignores the case of a key: its case mutants are equivalent.
    return jsonify(charge_id=row["id"], status=row["status"],  # pragma: no mutate (Row keys)
                   decline_reason=row["decline_reason"],  # pragma: no mutate (Row keys)
                   amount_cents=row["amount_cents"],  # pragma: no mutate (Row keys)
                   )


def _replay(previous, fingerprint: str, amount_cents: int) -> Response:
    """The stored answer for a reused key, or a 409 if the key comes with a different request."""
    # sqlite3.Row ignores the case of a key: its case mutants are equivalent.
    stored_hash, stored_amount = previous["request_hash"], previous["amount_cents"]  # pragma: no mutate (Row keys)
    if stored_hash is None:  # stored before keys were bound to their request: compare the amount
        same = stored_amount == amount_cents
    else:
        same = stored_hash == fingerprint
    if not same:
        raise ApiError(409, "idempotency_key_reused",
                       "This Idempotency-Key was already used for a charge with a different order, amount or "
                       "card; send a new key for a different charge.")
    return _answer(previous)


@bp.get("/charges")
def export_charges() -> Response:
    """Approved charges since `since` (unix seconds), for the reconcile job."""
    # The site of the export_errors fault: only this route breaks.
    if fault_store().params(faults.EXPORT_ERRORS.name) is not None:
        tracing.add_event("fault export_errors", {"fault": "export_errors"})
        raise RuntimeError("Injected fault: the charges export is broken (export_errors).")
    since = ascii_number(request.args.get("since", "0"))
    if since is None:
        raise ApiError(400, "invalid_since", "since must be a unix time in seconds (e.g. 1700000000.5).")
    return jsonify(charges=[dict(row) for row in db.approved_charges_since(since)])
