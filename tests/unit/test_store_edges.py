"""The edges of the shop's cart rules: the exact bounds of what a cart accepts, what stock is asked for, what is said.

Each test pins one boundary or one message of `app.shop.store` that a customer or client can see; they were
found by mutation testing (issue 17): changing the bound or the text by one made no other test fail.
"""
import uuid
from types import SimpleNamespace

import pytest

from app.common.errors import ApiError
from app.shop import store
from app.shop.payments_client import payments_client
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample
from tests.helpers.servers import TEST_TOKEN
from tests.helpers.shop_checkout import CARD, execute_sql, new_cart_with_item, payments_serving, shop_client_for

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}

# Stock at payments is fixed per product (app/payments/api.py): product 1 has 95, product 12 has 196.
SCARCE_PRODUCT, SCARCE_STOCK = 1, 95
PLENTIFUL_PRODUCT = 12  # more in stock than a cart may hold, so only the cart's own cap can refuse


@pytest.fixture
def client(shop_app, payments_app):
    """A test client for a shop wired to a running payments server."""
    with payments_serving(payments_app) as server:
        yield shop_client_for(shop_app, server)


@pytest.fixture
def quotes_asked(shop_app):
    """Every (product_id, quantity) the shop asks payments to quote, in order."""
    client = payments_client(shop_app)
    asked = []
    real_quote = client.quote

    def recording_quote(product_id, quantity):
        asked.append((product_id, quantity))
        return real_quote(product_id, quantity)

    client.quote = recording_quote
    return asked


def add(client, cart_id, product_id, quantity):
    return client.post(f"/api/carts/{cart_id}/items", json={"product_id": product_id, "quantity": quantity})


def refusal(call, *args):
    """The ApiError a store call raises."""
    with pytest.raises(ApiError) as raised:
        call(*args)
    return raised.value


# --- parse_quantity / parse_product_id: the accepted ranges, exactly ---

@pytest.mark.parametrize("value, expected", [(1, 1), (store.MAX_QUANTITY, store.MAX_QUANTITY), ("7", 7),
                                             ("99", 99)])
def test_quantities_from_one_to_the_cap_are_accepted(value, expected):
    """1 and MAX_QUANTITY are both valid quantities; ASCII digit strings count as their number."""
    assert store.parse_quantity(value) == expected


@pytest.mark.parametrize("value", [0, store.MAX_QUANTITY + 1, "100", -1, True, False, 2.0, None, "", "x"])
def test_quantities_outside_one_to_the_cap_are_a_400_naming_the_range(value):
    """Anything but a whole number from 1 to 99 is refused with the rule spelled out."""
    error = refusal(store.parse_quantity, value)
    assert (error.status, error.code, error.message) == (
        400, "invalid_quantity", "quantity must be a whole number from 1 to 99."), f"{value!r} was not refused right"


@pytest.mark.parametrize("value, expected", [(1, 1), (2**31, 2**31), ("12", 12)])
def test_product_ids_from_one_to_two_to_the_31_are_accepted(value, expected):
    """The bounds of openapi.yaml's product id: 1 and 2**31 are both valid (payments accepts the same range)."""
    assert store.parse_product_id(value) == expected


@pytest.mark.parametrize("value", [0, 2**31 + 1, -1, True, 1.0, None, "", "1.5", str(2**31 + 1)])
def test_product_ids_outside_the_range_are_a_400(value):
    """A product id that is not a whole number from 1 to 2**31 is refused before any lookup."""
    error = refusal(store.parse_product_id, value)
    assert (error.status, error.code, error.message) == (
        400, "invalid_product_id", "product_id must be a positive whole number."), f"{value!r} was not refused right"


# --- unknown products: the 404 and its message ---

@pytest.mark.parametrize("product_id", [0, -1, store.MAX_ROW_ID, store.MAX_ROW_ID + 1, 2**64, 13, 4242])
def test_an_unknown_product_is_a_404_naming_the_id(shop_app, product_id):
    """Ids outside SQLite's 64-bit range never reach the driver (which would overflow: a 500); every id without a
    product, inside or outside that range, is the same 404 naming the id."""
    with shop_app.app_context():
        error = refusal(store._product_row, product_id)
    assert (error.status, error.code, error.message) == (
        404, "unknown_product", f"There is no product with id {product_id}.")


def queries(operation):
    return sample("shop_db_query_duration_seconds_count", operation=operation)


@pytest.mark.parametrize("lookup, operation", [(store._product_row, "select_product"),
                                               (store.get_order, "select_order")])
def test_ids_that_cannot_be_rows_are_refused_without_a_query_and_the_largest_row_id_is_looked_up(
        shop_app, lookup, operation):
    """A row id is 1 to 2**63 - 1: an id outside that range is a 404 at once (a larger one would overflow the
    driver), while the largest row id could exist and is asked of the database."""
    with shop_app.app_context():
        for impossible in (0, -1, store.MAX_ROW_ID + 1):
            before = queries(operation)
            assert refusal(lookup, impossible).status == 404
            assert queries(operation) == before, f"id {impossible} was looked up in the database"
        before = queries(operation)
        assert refusal(lookup, store.MAX_ROW_ID).status == 404
        assert queries(operation) == before + 1, "the largest row id was refused without looking it up"


@pytest.mark.parametrize("order_id", [0, store.MAX_ROW_ID + 1, 1, 77])
def test_an_unknown_order_is_a_404_naming_the_id(shop_app, order_id):
    """Outside the row id range or simply not stored: the same 404, naming the id asked for."""
    with shop_app.app_context():
        error = refusal(store.get_order, order_id)
    assert (error.status, error.code, error.message) == (404, "unknown_order", f"There is no order with id {order_id}.")


def test_a_product_id_beyond_64_bits_in_the_url_is_a_404_sentence(client):
    """GET /api/products/<2**63> is one past SQLite's largest integer: a clear 404, not an overflow."""
    body = assert_error(client.get(f"/api/products/{2**63}"), 404, "unknown_product")
    assert body["message"] == f"There is no product with id {2**63}."


def test_the_largest_product_id_the_api_takes_is_looked_up_not_refused(client):
    """2**31 passes the API's own range check and gets the catalog's 404, with the id named."""
    cart_id = client.post("/api/carts").get_json()["id"]
    body = assert_error(add(client, cart_id, 2**31, 1), 404, "unknown_product")
    assert body["message"] == f"There is no product with id {2**31}."


# --- the cart's cap of one product ---

def test_the_cap_itself_fits_in_one_add(client):
    """Exactly MAX_QUANTITY of one product is allowed, in one go or topping up to it."""
    at_once = new_cart_with_item(client, PLENTIFUL_PRODUCT, store.MAX_QUANTITY)
    assert client.get(f"/api/carts/{at_once}").get_json()["items"][0]["quantity"] == store.MAX_QUANTITY
    topped_up = new_cart_with_item(client, PLENTIFUL_PRODUCT, store.MAX_QUANTITY - 1)
    response = add(client, topped_up, PLENTIFUL_PRODUCT, 1)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["items"][0]["quantity"] == store.MAX_QUANTITY


def test_one_past_the_cap_is_a_409_naming_what_the_cart_holds(client):
    """The cap is the cart's, not the stock's: product 12 has more in stock than 99, yet 99 + 1 is refused."""
    cart_id = new_cart_with_item(client, PLENTIFUL_PRODUCT, store.MAX_QUANTITY)
    body = assert_error(add(client, cart_id, PLENTIFUL_PRODUCT, 1), 409, "cart_limit")
    assert body["message"] == "A cart holds at most 99 of one product; this one has 99 already."
    other = new_cart_with_item(client, PLENTIFUL_PRODUCT, 40)
    body = assert_error(add(client, other, PLENTIFUL_PRODUCT, 60), 409, "cart_limit")
    assert body["message"] == "A cart holds at most 99 of one product; this one has 40 already."


# --- carts that may no longer change ---

def test_adding_to_a_checked_out_cart_is_a_409_telling_to_start_a_new_one(client):
    cart_id = new_cart_with_item(client, 2, 1)
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201
    body = assert_error(add(client, cart_id, 2, 1), 409, "cart_closed")
    assert body["message"] == "This cart is already checked out; start a new one."


def test_adding_to_a_cart_whose_charge_is_in_flight_is_a_409_telling_to_finish_the_checkout(client, shop_app):
    """A cart frozen by a checkout whose charge may have gone through (what a timed-out charge leaves behind)."""
    cart_id = new_cart_with_item(client, 2, 1)
    execute_sql(shop_app.config["DATABASE"], "UPDATE carts SET pending_total = 1600, pending_items = '[]' "
                "WHERE id = ?", (cart_id,))
    body = assert_error(add(client, cart_id, 2, 1), 409, "checkout_pending")
    assert body["message"] == ("A payment for this cart was started and may have gone through; check out again to "
                               "finish it before changing the cart.")
    assert client.get(f"/api/carts/{cart_id}").get_json()["items"][0]["quantity"] == 1, "a refusal changed the cart"


# --- stock ---

def test_the_last_item_in_stock_can_be_added(client):
    """Adding exactly what payments has in stock is fine: only more than that is out of stock."""
    cart_id = new_cart_with_item(client, SCARCE_PRODUCT, SCARCE_STOCK)
    assert client.get(f"/api/carts/{cart_id}").get_json()["items"][0]["quantity"] == SCARCE_STOCK


def test_more_than_the_stock_is_a_409_naming_the_stock(client):
    """The refusal tells the customer how many there are, and leaves the cart as it was."""
    cart_id = new_cart_with_item(client, SCARCE_PRODUCT, 90)
    body = assert_error(add(client, cart_id, SCARCE_PRODUCT, 6), 409, "out_of_stock")
    assert body["message"] == f"Only {SCARCE_STOCK} of this product are in stock."
    assert client.get(f"/api/carts/{cart_id}").get_json()["items"][0]["quantity"] == 90


def test_stock_is_asked_for_what_the_cart_would_hold(client, quotes_asked):
    """Adding to a product already in the cart asks payments for the new total, not only the added quantity."""
    cart_id = new_cart_with_item(client, 3, 2)
    assert add(client, cart_id, 3, 5).status_code == 200
    assert quotes_asked == [(3, 2), (3, 7)]


def test_a_product_page_asks_stock_for_one_and_shows_it(client, quotes_asked):
    """The stock line of a product page is payments' answer for that product (one unit asked)."""
    product = client.get(f"/api/products/{SCARCE_PRODUCT}").get_json()
    assert product["stock"] == SCARCE_STOCK
    assert quotes_asked == [(SCARCE_PRODUCT, 1)]


# --- carts ---

def test_a_new_cart_is_open_empty_and_has_a_fresh_id(client):
    """POST /api/carts answers the cart itself: a 32-hex id, no items, nothing pending, total 0."""
    first = client.post("/api/carts")
    second = client.post("/api/carts")
    assert first.status_code == 201
    body = first.get_json()
    assert body == {"id": body["id"], "items": [], "checked_out": False, "checkout_pending": False,
                    "total_cents": 0}
    assert len(body["id"]) == 32 and int(body["id"], 16) >= 0
    assert second.get_json()["id"] != body["id"], "two carts got the same id"


def test_a_cart_lists_its_lines_by_product_with_prices_and_total(client):
    """Each line names the product, its quantity and unit price; lines are ordered by product id; the total is the
    sum of quantity times unit price."""
    cart_id = new_cart_with_item(client, 4, 2)
    add(client, cart_id, 2, 3)
    cart = client.get(f"/api/carts/{cart_id}").get_json()
    assert cart["items"] == [
        {"product_id": 2, "name": "Filter coffee beans, 500 g", "quantity": 3, "unit_price_cents": 1600},
        {"product_id": 4, "name": "Pour-over dripper", "quantity": 2, "unit_price_cents": 2900},
    ]
    assert cart["total_cents"] == 3 * 1600 + 2 * 2900
    assert (cart["checked_out"], cart["checkout_pending"]) == (False, False)


def test_a_checked_out_cart_says_so(client):
    """After the checkout the cart shows checked out and nothing pending."""
    cart_id = new_cart_with_item(client, 2, 1)
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201
    cart = client.get(f"/api/carts/{cart_id}").get_json()
    assert (cart["checked_out"], cart["checkout_pending"]) == (True, False)


@pytest.mark.parametrize("cart_id", ["a" * 32, "not-a-cart", "A" * 32, "a" * 33])
def test_an_unknown_or_malformed_cart_is_the_same_404_sentence(client, cart_id):
    """Whether the id could be ours or not, the answer does not tell which: the same 404 and message."""
    body = assert_error(client.get(f"/api/carts/{cart_id}"), 404, "unknown_cart")
    assert body["message"] == "There is no cart with that id."


# --- the silent checkout failure's made-up order id ---

@pytest.mark.parametrize("random_int, told_id", [
    (0, 10**9), (123_456_789_012, 1_456_789_012), (10**9 - 1, 2 * 10**9 - 1), (7 * 10**9 + 5, 10**9 + 5)])
def test_the_silent_failure_tells_an_order_id_from_a_random_billion(client, monkeypatch, random_int, told_id):
    """The injected bug answers an order id that was never stored: the random id's last nine digits, above 10**9,
    so it looks like an order id yet never names a real order (the drill finds it missing)."""
    cart_id = new_cart_with_item(client, 2, 1)
    switched_on = client.put("/admin/faults/checkout_silent_failure", json={"duration_seconds": 60}, headers=AUTH)
    assert switched_on.status_code == 200, switched_on.get_json()
    monkeypatch.setattr(store, "uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(int=random_int)))
    told = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert told.status_code == 201, told.get_json()
    assert told.get_json()["id"] == told_id
