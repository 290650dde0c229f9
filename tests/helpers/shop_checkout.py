"""A shop wired to a real payments app served in a thread, and the few steps checkout tests repeat."""
import sqlite3
from contextlib import closing, contextmanager

from app.shop.payments_client import payments_client
from tests.helpers.servers import ThreadedServer

CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@contextmanager
def payments_serving(payments_app):
    """payments, really listening on a loopback port, approving every card but the test decline cards."""
    payments_app.config["DECLINE_RATIO"] = 0.0
    with ThreadedServer(payments_app) as server:
        yield server


def shop_client_for(shop_app, payments_server):
    """A test client for a shop whose payments client calls `payments_server`."""
    payments_client(shop_app).base_url = payments_server.url
    return shop_app.test_client()


def new_cart_with_item(client, product_id=1, quantity=2):
    """A new cart holding `quantity` of one product; its id."""
    cart_id = client.post("/api/carts").get_json()["id"]
    response = client.post(f"/api/carts/{cart_id}/items", json={"product_id": product_id, "quantity": quantity})
    assert response.status_code == 200, f"adding to a new cart failed: {response.get_json()}"
    return cart_id


def place_order(client, product_id=1, quantity=2):
    """Check out a new cart with one product; the order as the checkout answered it."""
    cart_id = new_cart_with_item(client, product_id, quantity)
    response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert response.status_code == 201, f"the checkout did not place an order: {response.get_json()}"
    return {**response.get_json(), "cart_id": cart_id}


def execute_sql(database, sql, args=()):
    """Run one statement on a service's SQLite file (to set up what a race or an old release leaves behind)."""
    with closing(sqlite3.connect(database)) as connection, connection:
        return connection.execute(sql, args).lastrowid
