"""Every database query of the shop is timed under its own `operation` label of shop_db_query_duration_seconds."""
import pytest

from tests.helpers.metrics_reading import sample
from tests.helpers.shop_checkout import (
    CARD,
    DECLINED_CARD,
    new_cart_with_item,
    payments_serving,
    place_order,
    shop_client_for,
)

OPERATIONS = ("select_products", "select_product", "insert_cart", "select_cart", "select_cart_items",
              "upsert_cart_item", "freeze_cart", "unfreeze_cart", "insert_order", "select_order",
              "select_orders_since")


@pytest.fixture
def client(shop_app, payments_app):
    """A test client for a shop wired to a running payments server."""
    with payments_serving(payments_app) as server:
        yield shop_client_for(shop_app, server)


def queries_by_operation():
    return {operation: sample("shop_db_query_duration_seconds_count", operation=operation)
            for operation in OPERATIONS}


def queries_during(action):
    """{operation: how many of its queries `action` ran}, for the operations that ran any."""
    before = queries_by_operation()
    action()
    after = queries_by_operation()
    return {operation: after[operation] - before[operation] for operation in OPERATIONS
            if after[operation] != before[operation]}


def test_catalog_reads_are_timed_as_select_products_and_select_product(client):
    assert queries_during(lambda: client.get("/api/products")) == {"select_products": 1}
    # A product page reads its product, then the whole catalog for recommendations.
    assert queries_during(lambda: client.get("/api/products/3")) == {"select_product": 1, "select_products": 1}


def test_cart_writes_and_reads_are_timed_under_their_operations(client):
    assert queries_during(lambda: client.post("/api/carts")) == {"insert_cart": 1, "select_cart": 1,
                                                                 "select_cart_items": 1}
    cart_id = client.post("/api/carts").get_json()["id"]
    # The cart is read before (to check it) and after (to answer), the product once, the line written once.
    assert queries_during(lambda: client.post(f"/api/carts/{cart_id}/items", json={"product_id": 1})) == {
        "select_cart": 2, "select_cart_items": 2, "select_product": 1, "upsert_cart_item": 1}


def test_a_placed_order_is_timed_as_freeze_insert_order_and_select_order(client):
    cart_id = new_cart_with_item(client)
    checkout = queries_during(lambda: client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}))
    assert checkout == {"freeze_cart": 1, "select_cart_items": 1, "insert_order": 1, "select_order": 1}


def test_a_declined_checkout_is_timed_as_freeze_and_unfreeze(client):
    cart_id = new_cart_with_item(client)
    declined = queries_during(
        lambda: client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": DECLINED_CARD}))
    assert declined == {"freeze_cart": 1, "select_cart_items": 1, "unfreeze_cart": 1}


def test_order_reads_are_timed_as_select_order_and_select_orders_since(client):
    order = place_order(client)
    assert queries_during(lambda: client.get(f"/api/orders/{order['id']}")) == {"select_order": 1}
    assert queries_during(lambda: client.get("/api/orders?since=0")) == {"select_orders_since": 1}
