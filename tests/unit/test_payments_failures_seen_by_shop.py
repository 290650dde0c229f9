"""How the shop answers when payments fails: a status per failure kind, and a message that says what happened."""
import pytest
import requests

from tests.helpers.errors import assert_error
from tests.helpers.servers import TEST_TOKEN
from tests.helpers.shop_checkout import payments_serving, shop_client_for

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def payments(payments_app):
    with payments_serving(payments_app) as server:
        yield server


def add_one(client, cart_id):
    return client.post(f"/api/carts/{cart_id}/items", json={"product_id": 1, "quantity": 1})


def test_payments_answering_errors_is_a_502_that_says_server_error(shop_app, payments):
    client = shop_client_for(shop_app, payments)
    cart_id = client.post("/api/carts").get_json()["id"]
    requests.put(payments.url + "/admin/faults/errors", json={"ratio": 1.0}, headers=AUTH,
                 timeout=5).raise_for_status()
    body = assert_error(add_one(client, cart_id), 502, "payments_unavailable")
    assert body["message"] == ("The payment service is unavailable (server error); nothing was charged twice, "
                               "please try again shortly.")


def test_payments_not_listening_is_a_503_that_says_connection_error(offline_client):
    cart_id = offline_client.post("/api/carts").get_json()["id"]
    body = assert_error(add_one(offline_client, cart_id), 503, "payments_unavailable")
    assert "(connection error)" in body["message"], body["message"]


@pytest.fixture
def offline_client(shop_app):
    """A test client for a shop whose payments service is not running."""
    return shop_app.test_client()
