"""The shop's HTML pages: what a person clicks through."""
from flask import Blueprint, make_response, redirect, render_template, request, url_for

from app.common.errors import ApiError
from app.common.parsing import card_number_or_none, digits_or_none
from app.shop import store

bp = Blueprint("pages", __name__)
CART_COOKIE = "cart_id"


def _cart_id_from_cookie():
    cart_id = request.cookies.get(CART_COOKIE, "")
    try:
        return store.valid_cart_id(cart_id)
    except ApiError:
        return None


@bp.get("/")
def catalog():
    return render_template("catalog.html", products=store.list_products())


@bp.get("/products/<int:product_id>")
def product(product_id):
    return render_template("product.html", product=store.view_product(product_id))


@bp.post("/cart/items")
def add_to_cart():
    # ASCII digits only: "²" would pass str.isdigit() and then fail int() (a 500).
    product_id = store.parse_product_id(digits_or_none(request.form.get("product_id", "")))
    quantity = store.parse_quantity(digits_or_none(request.form.get("quantity", "1")))
    cart_id = _cart_id_from_cookie()
    if cart_id is None or store.get_cart(cart_id)["checked_out"]:
        cart_id = store.create_cart()
    store.add_item(cart_id, product_id, quantity)
    response = make_response(redirect(url_for("pages.cart"), code=303))
    response.set_cookie(CART_COOKIE, cart_id, httponly=True, samesite="Lax")
    return response


@bp.get("/cart")
def cart():
    cart_id = _cart_id_from_cookie()
    cart_data = store.get_cart(cart_id) if cart_id else None
    if cart_data and cart_data["checked_out"]:
        cart_data = None
    return render_template("cart.html", cart=cart_data)


@bp.post("/checkout")
def checkout():
    cart_id = _cart_id_from_cookie()
    if cart_id is None:
        raise ApiError(400, "empty_cart", "Your cart is empty; add a product before checking out.")
    card_number = card_number_or_none(request.form.get("card_number", "").replace(" ", ""))
    order = store.checkout(cart_id, card_number)
    response = make_response(render_template("order.html", order=order, just_placed=True))
    response.delete_cookie(CART_COOKIE)
    return response


@bp.get("/orders/<int:order_id>")
def order(order_id):
    return render_template("order.html", order=store.get_order(order_id), just_placed=False)
