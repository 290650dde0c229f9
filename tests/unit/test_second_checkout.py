"""A cart is checked out once: a second checkout, a racing one, or one of an abandoned cart is a clear 409."""
import pytest

from app.shop import db
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample
from tests.helpers.shop_checkout import CARD, execute_sql, new_cart_with_item, payments_serving, shop_client_for


@pytest.fixture
def client(shop_app, payments_app):
    """A test client for a shop wired to a running payments server."""
    with payments_serving(payments_app) as server:
        yield shop_client_for(shop_app, server)


def checkout(client, cart_id):
    return client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})


def test_second_checkout_names_the_order_the_cart_became(client):
    cart_id = new_cart_with_item(client)
    order_id = checkout(client, cart_id).get_json()["id"]
    body = assert_error(checkout(client, cart_id), 409, "cart_closed")
    assert body["message"] == f"This cart is already checked out as order {order_id}."


def test_abandoned_cart_cannot_be_checked_out_and_has_no_order_to_name(client, shop_app):
    cart_id = new_cart_with_item(client)
    shop_app.config["CART_ABANDON_AFTER_SECONDS"] = 0  # the next new cart abandons every older open cart
    abandoned = sample("shop_carts_abandoned_total")
    client.post("/api/carts")
    assert sample("shop_carts_abandoned_total") == abandoned + 1, "the older cart was not abandoned"
    body = assert_error(checkout(client, cart_id), 409, "cart_closed")
    assert body["message"] == "This cart is already checked out."


def test_checkout_that_loses_the_race_to_store_the_order_is_409_naming_the_winner(client, shop_app):
    cart_id = new_cart_with_item(client)
    # What a racing checkout of the same cart leaves behind once it stored its order first.
    winner = execute_sql(shop_app.config["DATABASE"],
                         "INSERT INTO orders (cart_id, charge_id, total_cents, items, created_at) "
                         "VALUES (?, 'ch_winner', 4800, '[]', ?)", (cart_id, db.now()))
    body = assert_error(checkout(client, cart_id), 409, "cart_closed")
    assert body["message"] == f"This cart is already checked out as order {winner}."
    assert client.get(f"/api/orders/{winner}").get_json()["charge_id"] == "ch_winner", "the winner's order changed"
