"""The catalog as the API serves it: every field of catalog.json, in id order, and a product page's stock check."""
import json

import pytest
from flask import request

from app.shop.db import CATALOG_FILE
from tests.helpers.shop_checkout import payments_serving, shop_client_for


@pytest.fixture
def quotes_asked(payments_app):
    """The query of every stock quote payments receives (recorded by a hook on the real payments app)."""
    asked = []
    payments_app.before_request(lambda: asked.append(dict(request.args)) if request.path == "/quotes" else None)
    return asked


@pytest.fixture
def client(shop_app, payments_app, quotes_asked):
    """A test client for a shop wired to a running payments server."""
    with payments_serving(payments_app) as server:
        yield shop_client_for(shop_app, server)


def catalog():
    with open(CATALOG_FILE) as catalog_file:
        return sorted(json.load(catalog_file), key=lambda product: product["id"])


def test_products_are_the_catalog_file_field_for_field_in_id_order(client):
    assert client.get("/api/products").get_json()["products"] == catalog()


def test_product_page_shows_the_catalog_fields_and_asks_payments_about_one_unit(client, quotes_asked):
    expected = catalog()[4]
    product = client.get(f"/api/products/{expected['id']}").get_json()
    assert {key: product[key] for key in expected} == expected
    assert quotes_asked == [{"product_id": str(expected["id"]), "quantity": "1"}], \
        "a product page's stock line is about buying one unit"
