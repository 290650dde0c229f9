"""The shop's JSON API (described in openapi.yaml, served at /api/openapi.json)."""
import copy
import os
import re
import time

import yaml
from flask import Blueprint, jsonify, request

from app.common.errors import ApiError
from app.common.parsing import ascii_number, card_number_or_none, digits_or_none, json_object_body
from app.shop import store

bp = Blueprint("api", __name__, url_prefix="/api")
OPENAPI_FILE = os.path.join(os.path.dirname(__file__), "openapi.yaml")
with open(OPENAPI_FILE) as _spec:
    OPENAPI = yaml.safe_load(_spec)


def json_body():
    """The request body as a JSON object, or a 400 that says what is wrong."""
    return json_object_body()


@bp.get("/openapi.json")
def openapi():
    """The API description (OpenAPI 3), with this shop's product ids as the only valid `product_id`."""
    spec = copy.deepcopy(OPENAPI)
    spec["components"]["schemas"]["CatalogProductId"]["enum"] = [product["id"] for product in store.list_products()]
    return jsonify(spec)


@bp.get("/products")
def products():
    return jsonify(products=store.list_products())


@bp.get("/products/<int:product_id>")
def product(product_id):
    return jsonify(store.view_product(product_id))


@bp.post("/carts")
def create_cart():
    return jsonify(store.get_cart(store.create_cart())), 201


@bp.get("/carts/<cart_id>")
def cart(cart_id):
    return jsonify(store.get_cart(cart_id))


@bp.post("/carts/<cart_id>/items")
def add_item(cart_id):
    body = json_body()
    store.valid_cart_id(cart_id)
    # Strings of digits are accepted for convenience, but only ASCII ones ("²" or "١" is a 400).
    product_id = store.parse_product_id(digits_or_none(body.get("product_id")))
    quantity = store.parse_quantity(digits_or_none(body.get("quantity", 1)))
    return jsonify(store.add_item(cart_id, product_id, quantity))


@bp.post("/carts/<cart_id>/checkout")
def checkout(cart_id):
    body = json_body()
    return jsonify(store.checkout(cart_id, card_number_or_none(body.get("card_number")))), 201


@bp.get("/orders/<int:order_id>")
def order(order_id):
    return jsonify(store.get_order(order_id))


@bp.get("/orders")
def orders():
    since = ascii_number(request.args.get("since", "0"))
    if since is None:
        raise ApiError(400, "invalid_since", "since must be a unix time in seconds (e.g. 1700000000.5).")
    if not 0 <= since <= time.time() + 86400:
        raise ApiError(400, "invalid_since", "since must be a unix time in seconds, not in the future.")
    after_id = _whole_number_arg("after_id", 0, 0, store.MAX_ROW_ID)
    limit = _whole_number_arg("limit", store.ORDERS_PAGE_LIMIT, 1, store.ORDERS_PAGE_LIMIT)
    return jsonify(store.orders_since(since, after_id, limit))


def _whole_number_arg(name, default, lowest, highest):
    """A query argument of ASCII digits from lowest to highest, `default` when absent, or a 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,19}", raw) or not lowest <= int(raw) <= highest:
        raise ApiError(400, f"invalid_{name}", f"{name} must be a whole number from {lowest} to {highest}.")
    return int(raw)
