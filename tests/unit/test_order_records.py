"""What the shop stores for an order and serves back: one order, its ids in range, and pages of orders."""
import time

import pytest

from app.shop import store
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample
from tests.helpers.shop_checkout import payments_serving, place_order, shop_client_for


@pytest.fixture
def client(shop_app, payments_app):
    """A test client for a shop wired to a running payments server."""
    with payments_serving(payments_app) as server:
        yield shop_client_for(shop_app, server)


def order_lookups():
    return sample("shop_db_query_duration_seconds_count", operation="select_order")


def test_an_order_is_served_with_what_was_charged_and_when(client):
    before = time.time()
    placed = place_order(client, product_id=2, quantity=3)
    after = time.time()
    order = client.get(f"/api/orders/{placed['id']}").get_json()
    assert set(order) == {"id", "total_cents", "charge_id", "items", "created_at"}, order
    assert order["id"] == placed["id"] and order["charge_id"] == placed["charge_id"]
    assert order["total_cents"] == 3 * order["items"][0]["unit_price_cents"] == placed["total_cents"]
    assert [(line["product_id"], line["quantity"]) for line in order["items"]] == [(2, 3)]
    assert before <= order["created_at"] <= after, "an order's created_at is not the time it was stored"


@pytest.mark.parametrize("order_id", [0, store.MAX_ROW_ID + 1, 2**70])
def test_order_ids_outside_sqlite_rowids_are_404_without_a_query(client, order_id):
    lookups = order_lookups()
    body = assert_error(client.get(f"/api/orders/{order_id}"), 404, "unknown_order")
    assert body["message"] == f"There is no order with id {order_id}."
    assert order_lookups() == lookups, f"order id {order_id} cannot exist, yet it was looked up in the database"


@pytest.mark.parametrize("order_id", [1, store.MAX_ROW_ID])
def test_order_ids_inside_sqlite_rowids_are_looked_up(client, order_id):
    lookups = order_lookups()
    body = assert_error(client.get(f"/api/orders/{order_id}"), 404, "unknown_order")
    assert body["message"] == f"There is no order with id {order_id}."
    assert order_lookups() == lookups + 1, f"order id {order_id} can exist, yet it was not looked up"


def test_orders_page_lists_each_order_with_its_cart_and_charge(client):
    placed = [place_order(client, product_id=product_id, quantity=1) for product_id in (1, 2, 3)]
    stored = [client.get(f"/api/orders/{order['id']}").get_json() for order in placed]
    page = client.get("/api/orders?since=0").get_json()
    assert page["next_after_id"] is None
    assert page["orders"] == [{"id": order["id"], "cart_id": order["cart_id"], "charge_id": order["charge_id"],
                               "total_cents": order["total_cents"], "created_at": stored_order["created_at"]}
                              for order, stored_order in zip(placed, stored, strict=True)]


def test_a_full_page_points_at_its_last_order_and_the_next_page_ends(client):
    ids = [place_order(client)["id"] for _ in range(3)]
    full = client.get("/api/orders?since=0&limit=3").get_json()
    assert [order["id"] for order in full["orders"]] == ids
    assert full["next_after_id"] == ids[-1], "the cursor of a full page is not its last order"
    rest = client.get(f"/api/orders?since=0&limit=3&after_id={ids[-1]}").get_json()
    assert rest == {"orders": [], "next_after_id": None}


def test_orders_since_includes_an_order_created_exactly_then(client):
    first, second = place_order(client), place_order(client)
    created = client.get(f"/api/orders/{second['id']}").get_json()["created_at"]
    page = client.get(f"/api/orders?since={created!r}").get_json()
    assert [order["id"] for order in page["orders"]] == [second["id"]], f"first order was {first['id']}"


def test_orders_since_defaults_to_every_order_from_the_first_in_one_page(client, shop_app):
    ids = [place_order(client)["id"] for _ in range(2)]
    with shop_app.app_context():
        page = store.orders_since(0)
    assert [order["id"] for order in page["orders"]] == ids == [1, 2]
    assert page["next_after_id"] is None
