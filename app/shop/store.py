"""The shop's domain logic (catalog, carts, checkout), shared by the HTML pages and the JSON API.

Not storage, despite the name: the SQLite storage is `db.py`; this module
decides what happens and calls `db` and `payments_client` to do it.

Business metrics are counted here, where the thing actually happens: an order
counts when it is committed, a checkout counts with the outcome the customer
was shown. The gap between the two is what the silent checkout bug opens.
"""
import json
import re
import uuid

from flask import current_app

from app.common import tracing
from app.common.errors import ApiError
from app.common.faults import fault_store
from app.common.parsing import digits_or_none, is_card_number
from app.common.request_log import json_logger
from app.shop import db, faults
from app.shop.metrics import (
    CART_ITEMS_ADDED,
    CARTS_ABANDONED,
    CARTS_CREATED,
    CHECKOUTS,
    COMPUTE_DURATION,
    DECLINE_REASONS,
    ORDER_VALUE,
    ORDERS,
    PAYMENT_DECLINES,
    PRODUCT_VIEWS,
)
from app.shop.payments_client import PaymentsUnavailable, payments_client
from app.shop.recommendations import recommend

MAX_QUANTITY = 99
ORDERS_PAGE_LIMIT = 1000
# Runs under the write lock on every new cart: the partial index carts_open_created_at keeps it off a table scan.
ABANDON_OPEN_CARTS = "UPDATE carts SET checked_out_at = -1 WHERE checked_out_at IS NULL AND created_at < ?"
_CART_ID = re.compile(r"^[0-9a-f]{32}$")
STATUS_FOR_OUTCOME = {"timeout": 504, "connection_error": 503}
# Equivalent mutants, marked where they live: `# pragma: no mutate (SQL case)` marks a line of SQL text, whose
# mutants only change its case (SQLite ignores the case of keywords and names, and result columns keep their
# declared names); `# pragma: no mutate (Row keys)` marks sqlite3.Row lookups, which ignore the key's case.
# (mutmut reads a pragma that ends a statement as marking the statement's first line: hence the lone brackets.)


def payments_error(failure):
    """Turn a failed payments call into a quick, clear 502/503/504."""
    status = STATUS_FOR_OUTCOME.get(failure.outcome, 502)
    return ApiError(status, "payments_unavailable",
                    f"The payment service is unavailable ({failure.outcome.replace('_', ' ')}); "
                    "nothing was charged twice, please try again shortly.")


# SQLite integers are 64-bit; a larger id in a URL cannot exist (and would overflow the driver).
MAX_ROW_ID = 2**63 - 1


def _catalog_code():
    """Every catalog read passes here: the site of the slow_code fault, timed as our own work."""
    seconds = faults.slow_code_seconds()  # the request's app: no argument to mutate into an equivalent None
    if seconds:
        with tracing.span("compute catalog") as span, COMPUTE_DURATION.labels("catalog").time():
            span.add_event("fault slow_code", {"fault": "slow_code", "seconds": seconds})
            faults.burn_cpu(seconds)


def _product_row(product_id):
    _catalog_code()
    if not 0 < product_id <= MAX_ROW_ID:
        raise ApiError(404, "unknown_product", f"There is no product with id {product_id}.")
    rows = db.query("select_product",
                    "SELECT * FROM products WHERE id = ?",  # pragma: no mutate (SQL case)
                    (product_id,))
    if not rows:
        raise ApiError(404, "unknown_product", f"There is no product with id {product_id}.")
    return rows[0]


def _product_dict(row):
    return {"id": row["id"], "name": row["name"], "description": row["description"],  # pragma: no mutate (Row keys)
            "price_cents": row["price_cents"], "tags": row["tags"].split(),  # pragma: no mutate (Row keys)
            }


def list_products():
    """The whole catalog."""
    _catalog_code()
    rows = db.query("select_products",
                    "SELECT * FROM products ORDER BY id",  # pragma: no mutate (SQL case)
                    )
    return [_product_dict(row) for row in rows]


def view_product(product_id):
    """A product with live stock (degrading to 'unknown' if payments is down) and recommendations."""
    product = _product_dict(_product_row(product_id))
    PRODUCT_VIEWS.inc()
    try:
        quote = payments_client().quote(product_id, 1)
        product["stock"] = quote["available"]
    except PaymentsUnavailable:
        product["stock"] = None  # the page still works; only the stock line is missing
    product["recommendations"] = recommend(product, list_products())
    return product


def valid_cart_id(cart_id):
    """Raise 404 unless cart_id has the shape of one of our ids."""
    if not isinstance(cart_id, str) or not _CART_ID.match(cart_id):
        raise ApiError(404, "unknown_cart", "There is no cart with that id.")
    return cart_id


def create_cart():
    """Start a new cart (and count carts left untouched too long as abandoned)."""
    cart_id = uuid.uuid4().hex
    cutoff = db.now() - current_app.config["CART_ABANDON_AFTER_SECONDS"]
    with db.transaction("insert_cart") as connection:
        abandoned = connection.execute(ABANDON_OPEN_CARTS, (cutoff,)).rowcount
        connection.execute(
            "INSERT INTO carts (id, created_at) VALUES (?, ?)",  # pragma: no mutate (SQL case)
            (cart_id, db.now()))
    CARTS_CREATED.inc()
    if abandoned:
        CARTS_ABANDONED.inc(abandoned)
    return cart_id


def get_cart(cart_id):
    """A cart with its items and total."""
    rows = db.query("select_cart",
                    "SELECT checked_out_at, pending_total FROM carts WHERE id = ?",  # pragma: no mutate (SQL case)
                    (valid_cart_id(cart_id),))
    if not rows:
        raise ApiError(404, "unknown_cart", "There is no cart with that id.")
    checked_out_at, pending_total = rows[0]  # by position: no Row keys, whose case mutants would be equivalent
    lines = _cart_lines(cart_id)
    return {"id": cart_id, "items": lines, "checked_out": checked_out_at is not None,
            "checkout_pending": pending_total is not None,
            "total_cents": sum(line["quantity"] * line["unit_price_cents"] for line in lines)}


def _cart_lines(cart_id):
    items = db.query("select_cart_items",
                     "SELECT p.id, p.name, p.price_cents, i.quantity FROM cart_items i "  # pragma: no mutate (SQL case)
                     "JOIN products p ON p.id = i.product_id "  # pragma: no mutate (SQL case)
                     "WHERE i.cart_id = ? ORDER BY p.id",  # pragma: no mutate (SQL case)
                     (cart_id,))
    # Columns by position: no Row keys, whose case mutants would be equivalent.
    return [{"product_id": product_id, "name": name, "quantity": quantity, "unit_price_cents": price_cents}
            for product_id, name, price_cents, quantity in items]


def _refuse_changes(checked_out, checkout_pending):
    """A 409 unless the cart may still change: not checked out, and no charge for it in flight."""
    if checked_out:
        raise ApiError(409, "cart_closed", "This cart is already checked out; start a new one.")
    if checkout_pending:
        raise ApiError(409, "checkout_pending",
                       "A payment for this cart was started and may have gone through; check out again to "
                       "finish it before changing the cart.")


def parse_quantity(value):
    """A quantity from 1 to MAX_QUANTITY, or a 400."""
    value = digits_or_none(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise ApiError(400, "invalid_quantity", f"quantity must be a whole number from 1 to {MAX_QUANTITY}.")
    return value


def parse_product_id(value):
    """A positive product id, or a 400."""
    value = digits_or_none(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 2**31:
        raise ApiError(400, "invalid_product_id", "product_id must be a positive whole number.")
    return value


def add_item(cart_id, product_id, quantity):
    """Add quantity of a product to an open cart, after checking stock at payments."""
    cart = get_cart(cart_id)
    _refuse_changes(cart["checked_out"], cart["checkout_pending"])
    _product_row(product_id)
    in_cart = next((line["quantity"] for line in cart["items"] if line["product_id"] == product_id), 0)
    wanted = in_cart + quantity
    if wanted > MAX_QUANTITY:  # a valid quantity the cart's contents refuse: a conflict, not a bad request
        raise ApiError(409, "cart_limit", f"A cart holds at most {MAX_QUANTITY} of one product; this one has "
                                          f"{in_cart} already.")
    try:
        quote = payments_client().quote(product_id, wanted)
    except PaymentsUnavailable as failure:
        raise payments_error(failure) from failure
    if quote["available"] < wanted:
        raise ApiError(409, "out_of_stock", f"Only {quote['available']} of this product are in stock.")
    with db.transaction("upsert_cart_item") as connection:
        # Checked again under the write lock: a checkout may have frozen the cart while we asked for stock.
        row = connection.execute(
            "SELECT * FROM carts WHERE id = ?",  # pragma: no mutate (SQL case)
            (cart_id,)).fetchone()
        _refuse_changes(row["checked_out_at"] is not None,  # pragma: no mutate (Row keys)
                        row["pending_total"] is not None,  # pragma: no mutate (Row keys)
                        )
        connection.execute(
            "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?) "  # pragma: no mutate (SQL case)
            "ON CONFLICT (cart_id, product_id) "  # pragma: no mutate (SQL case)
            "DO UPDATE SET quantity = excluded.quantity",  # pragma: no mutate (SQL case)
            (cart_id, product_id, wanted))
    CART_ITEMS_ADDED.inc(quantity)
    return get_cart(cart_id)


def checkout(cart_id, card_number):
    """Charge the cart's total and store the order; count the outcome the customer sees."""
    try:
        order = _checkout(cart_id, card_number)
    except ApiError as error:
        outcome = {402: "declined"}.get(error.status,
                                         "payment_failed" if error.code == "payments_unavailable" else "rejected")
        CHECKOUTS.labels(outcome).inc()
        raise
    except Exception:
        CHECKOUTS.labels("error").inc()
        raise
    CHECKOUTS.labels("placed").inc()
    return order


def _checkout(cart_id, card_number):
    """Freeze the cart, charge its frozen total, check what was charged, then store the one order.

    The idempotency key names the cart and its checkout attempt, and payments
    binds it to the amount and card: a retry after a timeout (or a second
    checkout racing this one) gets the same charge, and the cart cannot change
    meanwhile. A crash between the charge and the order leaves a frozen cart
    that the customer's retry completes, or a charge the reconcile job reports.
    """
    if not is_card_number(card_number):
        raise ApiError(400, "invalid_card_number", "card_number must be 12 to 19 digits.")
    attempt, total, items = _freeze(valid_cart_id(cart_id))
    try:
        charge = payments_client().charge(f"cart-{cart_id}", total, card_number, f"cart-{cart_id}-{attempt}")
    except PaymentsUnavailable as failure:
        if failure.status == 409:  # payments refused to reuse the key: this attempt is bound to another card
            raise ApiError(409, "checkout_pending",
                           "A payment for this cart was already started with a different card; check out again "
                           "with the same card to finish it.") from failure
        raise payments_error(failure) from failure
    if charge.get("status") != "approved":
        _unfreeze(cart_id, attempt)  # nothing was charged: the customer may change the cart or the card
        reason = charge.get("decline_reason")
        PAYMENT_DECLINES.labels(reason if reason in DECLINE_REASONS else "other").inc()
        raise ApiError(402, "payment_declined", "The card was declined; no order was placed.")
    if charge.get("amount_cents") != total:
        # Never store an order for an amount other than what was charged; reconcile reports the charge.
        json_logger().error("charged amount differs from the order total", extra={"fields": {
            "cart_id": cart_id, "charge_id": charge.get("charge_id"), "charged_cents": charge.get("amount_cents"),
            "order_cents": total}})
        raise ApiError(502, "payment_mismatch",
                       "The payment service charged a different amount than the order total; no order was "
                       "placed and the charge will be reconciled.")
    if fault_store().params(faults.CHECKOUT_SILENT_FAILURE.name) is not None:
        # The injected bug: the customer is told the order was placed, but nothing is stored.
        tracing.add_event("fault checkout_silent_failure", {"fault": "checkout_silent_failure"})
        return {"id": uuid.uuid4().int % 10**9 + 10**9, "total_cents": total,
                "charge_id": charge["charge_id"], "items": items}
    order_id = _store_order(cart_id, charge["charge_id"], total, items)
    ORDERS.inc()
    ORDER_VALUE.observe(total / 100)
    return get_order(order_id)


def _freeze(cart_id):
    """The cart's checkout attempt, total and items, frozen until the attempt ends (kept if already frozen)."""
    with db.transaction("freeze_cart") as connection:
        row = connection.execute(
            "SELECT * FROM carts WHERE id = ?",  # pragma: no mutate (SQL case)
            (cart_id,)).fetchone()
        if row is None:
            raise ApiError(404, "unknown_cart", "There is no cart with that id.")
        if row["checked_out_at"] is not None:  # pragma: no mutate (Row keys)
            raise _already_checked_out(connection, cart_id)
        # A retry, or a checkout racing another one: the same charge.
        if row["pending_total"] is not None:  # pragma: no mutate (Row keys)
            return (row["checkout_attempt"], row["pending_total"],  # pragma: no mutate (Row keys)
                    json.loads(row["pending_items"]),  # pragma: no mutate (Row keys)
                    )
        items = _cart_lines(cart_id)
        if not items:  # a well-formed request the cart's state refuses: a conflict, not a bad request
            raise ApiError(409, "empty_cart", "The cart is empty; add a product before checking out.")
        total = sum(line["quantity"] * line["unit_price_cents"] for line in items)
        connection.execute(
            "UPDATE carts SET pending_total = ?, pending_items = ? WHERE id = ?",  # pragma: no mutate (SQL case)
            (total, json.dumps(items), cart_id))
        return row["checkout_attempt"], total, items  # pragma: no mutate (Row keys)


def _unfreeze(cart_id, attempt):
    """End a declined attempt: the next checkout is a new attempt with a new key."""
    with db.transaction("unfreeze_cart") as connection:
        connection.execute(
            "UPDATE carts SET pending_total = NULL, pending_items = NULL, "  # pragma: no mutate (SQL case)
            "checkout_attempt = checkout_attempt + 1 "  # pragma: no mutate (SQL case)
            "WHERE id = ? AND checkout_attempt = ? AND checked_out_at IS NULL",  # pragma: no mutate (SQL case)
            (cart_id, attempt))


def _store_order(cart_id, charge_id, total, items):
    """Store the cart's one order; a checkout that lost the race to store it gets a 409."""
    with db.transaction("insert_order") as connection:
        if connection.execute(
                "SELECT 1 FROM orders WHERE cart_id = ?",  # pragma: no mutate (SQL case)
                (cart_id,)).fetchone():
            raise _already_checked_out(connection, cart_id)
        order_id = connection.execute(
            "INSERT INTO orders (cart_id, charge_id, total_cents, items, created_at) "  # pragma: no mutate (SQL case)
            "VALUES (?, ?, ?, ?, ?)",  # pragma: no mutate (SQL case)
            (cart_id, charge_id, total, json.dumps(items), db.now())).lastrowid
        connection.execute(
            "UPDATE carts SET checked_out_at = ?, "  # pragma: no mutate (SQL case)
            "pending_total = NULL, pending_items = NULL "  # pragma: no mutate (SQL case)
            "WHERE id = ?",  # pragma: no mutate (SQL case)
            (db.now(), cart_id))
    return order_id


def _already_checked_out(connection, cart_id):
    """The 409 for a second checkout of a cart, naming its order when there is one."""
    order = connection.execute(
        "SELECT id FROM orders WHERE cart_id = ?",  # pragma: no mutate (SQL case)
        (cart_id,)).fetchone()
    if order is None:
        return ApiError(409, "cart_closed", "This cart is already checked out.")
    order_id = order["id"]  # pragma: no mutate (Row keys)
    return ApiError(409, "cart_closed", f"This cart is already checked out as order {order_id}.")


def get_order(order_id):
    """A stored order."""
    if not 0 < order_id <= MAX_ROW_ID:
        raise ApiError(404, "unknown_order", f"There is no order with id {order_id}.")
    rows = db.query("select_order",
                    "SELECT * FROM orders WHERE id = ?",  # pragma: no mutate (SQL case)
                    (order_id,))
    if not rows:
        raise ApiError(404, "unknown_order", f"There is no order with id {order_id}.")
    row = rows[0]
    return {"id": row["id"], "total_cents": row["total_cents"],  # pragma: no mutate (Row keys)
            "charge_id": row["charge_id"],  # pragma: no mutate (Row keys)
            "items": json.loads(row["items"]), "created_at": row["created_at"],  # pragma: no mutate (Row keys)
            }


def orders_since(since, after_id=0, limit=ORDERS_PAGE_LIMIT):
    """One page of orders created at or after `since` (unix seconds) with an id above `after_id`, by id.

    For the reconcile job: `next_after_id` is the cursor of the next page, null on the last one.
    """
    rows = db.query("select_orders_since",
                    "SELECT id, cart_id, charge_id, total_cents, created_at "  # pragma: no mutate (SQL case)
                    "FROM orders "  # pragma: no mutate (SQL case)
                    "WHERE created_at >= ? AND id > ? ORDER BY id LIMIT ?",  # pragma: no mutate (SQL case)
                    (since, after_id, limit))
    orders = [dict(row) for row in rows]
    return {"orders": orders, "next_after_id": orders[-1]["id"] if len(orders) == limit else None}
