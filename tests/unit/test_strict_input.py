"""Every bad input is a clear 4xx on shop and payments (issue 13, item 8): ASCII digits only, finite
numbers only, valid Unicode, bounded nesting, and JSON errors from payments to every client."""
import json

import pytest

from app.shop.payments_client import payments_client
from tests.helpers.errors import assert_error
from tests.helpers.servers import TEST_TOKEN, ThreadedServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CARD = "4242424242424242"
SUPERSCRIPT_TWO = "\u00b2"  # "²": str.isdigit() is true, int() refuses it
ARABIC_INDIC_TWO = "\u0662"  # "٢": int() reads it as 2
FULL_WIDTH_TWO = "\uff12"  # "２": int() reads it as 2
NON_ASCII_DIGITS = [SUPERSCRIPT_TWO, ARABIC_INDIC_TWO, FULL_WIDTH_TWO]
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def payments(payments_app):
    payments_app.config["DECLINE_RATIO"] = 0.0
    return payments_app.test_client()


@pytest.fixture
def shop(shop_app, payments_app):
    """A shop wired to a payments server really listening on loopback."""
    payments_app.config["DECLINE_RATIO"] = 0.0
    with ThreadedServer(payments_app) as server:
        payments_client(shop_app).base_url = server.url
        yield shop_app.test_client()


def cart_with_item(shop):
    cart_id = shop.post("/api/carts").get_json()["id"]
    response = shop.post(f"/api/carts/{cart_id}/items", json={"product_id": 1, "quantity": 1})
    assert response.status_code == 200, response.get_json()
    return cart_id


def deeply_nested(depth):
    return "[" * depth + "]" * depth


# --- shop ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
@pytest.mark.parametrize("field", ["product_id", "quantity"])
def test_shop_api_refuses_non_ascii_digits_in_item_fields(shop, digit, field):
    cart_id = shop.post("/api/carts").get_json()["id"]
    body = {"product_id": 1, "quantity": 1, field: digit}
    response = shop.post(f"/api/carts/{cart_id}/items", json=body)
    assert_error(response, 400, f"invalid_{field}")
    assert shop.get(f"/api/carts/{cart_id}").get_json()["items"] == []


def test_shop_api_still_takes_ascii_digit_strings(shop):
    cart_id = shop.post("/api/carts").get_json()["id"]
    response = shop.post(f"/api/carts/{cart_id}/items", json={"product_id": "3", "quantity": "2"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["items"][0]["quantity"] == 2


@pytest.mark.parametrize("digit", NON_ASCII_DIGITS)
@pytest.mark.parametrize("field", ["product_id", "quantity"])
def test_shop_form_refuses_non_ascii_digits(shop, digit, field):
    form = {"product_id": "1", "quantity": "1", field: digit}
    response = shop.post("/cart/items", data=form, headers={"Accept": "application/json"})
    assert_error(response, 400, f"invalid_{field}")


@pytest.mark.parametrize("path", ["/api/products/\u0661", "/api/orders/\u0661", "/products/\uff11"])
def test_shop_urls_take_ascii_ids_only(shop, path):
    # Werkzeug's <int:> matches any Unicode digit: "١" (Arabic-Indic one) read as product 1.
    assert shop.get(path, headers={"Accept": "application/json"}).status_code == 404


@pytest.mark.parametrize("card", [CARD + "\n", CARD[:-1] + FULL_WIDTH_TWO, CARD[:-1] + SUPERSCRIPT_TWO,
                                  "\u0664" * 16])
def test_shop_checkout_treats_a_card_payments_would_refuse_as_the_customers_typo(shop, card):
    cart_id = cart_with_item(shop)
    assert_error(shop.post(f"/api/carts/{cart_id}/checkout", json={"card_number": card}), 400,
                 "invalid_card_number")
    # Nothing was lost: the cart is still open and checks out with a good card.
    assert shop.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201


def test_shop_checkout_form_refuses_a_trailing_newline(shop):
    response = shop.post("/cart/items", data={"product_id": "1", "quantity": "1"})
    assert response.status_code == 303
    response = shop.post("/checkout", data={"card_number": CARD + "\n"}, headers={"Accept": "application/json"})
    assert_error(response, 400, "invalid_card_number")


@pytest.mark.parametrize("since", ["nan", "inf", "-inf", "1e999", "\u0661\u0662", "1_000", " 5", "5\n"])
def test_shop_orders_since_must_be_a_finite_ascii_number(shop, since):
    assert_error(shop.get("/api/orders", query_string={"since": since}), 400, "invalid_since")


def test_shop_orders_since_takes_a_decimal_time(shop):
    assert shop.get("/api/orders", query_string={"since": "1700000000.25"}).status_code == 200


@pytest.mark.parametrize("body", [
    '{"product_id": 1, "quantity": NaN}',
    '{"product_id": 1, "quantity": Infinity}',
    '{"product_id": 1e999}',
    '{"product_id": "\\ud800"}',
    '{"\\udfff": 1}',
    deeply_nested(5000),
    '{"a": ' + deeply_nested(5000) + "}",
    '{"product_id": ' + "9" * 5000 + "}",
], ids=["nan", "infinity", "overflow", "lone-surrogate-value", "lone-surrogate-key", "nested-array",
        "nested-in-object", "huge-integer"])
def test_shop_refuses_unreadable_json_with_400(shop, body):
    cart_id = shop.post("/api/carts").get_json()["id"]
    assert_error(shop.post(f"/api/carts/{cart_id}/items", data=body, headers=JSON), 400, "invalid_json")


def test_shop_body_over_the_limit_is_413(shop):
    cart_id = shop.post("/api/carts").get_json()["id"]
    response = shop.post(f"/api/carts/{cart_id}/items", data="[" * 100_000, headers=JSON)
    assert_error(response, 413, "request_entity_too_large")


# --- fault parameters (shared by every service) -------------------------------------------------


@pytest.mark.parametrize("raw", ['{"median_seconds": NaN}', '{"median_seconds": Infinity}',
                                 '{"median_seconds": 1e999}', '{"median_seconds": ' + "9" * 400 + "}",
                                 '{"duration_seconds": NaN}', '{"duration_seconds": ' + "9" * 400 + "}",
                                 '{"sigma": -Infinity}', deeply_nested(3000)])
def test_fault_parameters_must_be_finite(payments, raw):
    response = payments.put("/admin/faults/latency", data=raw, headers={**AUTH, **JSON})
    assert response.status_code == 400, response.get_json()
    listing = payments.get("/admin/faults", headers=AUTH)
    json.loads(listing.get_data(as_text=True), parse_constant=pytest.fail)  # strictly valid JSON
    assert not any(fault["active"] for fault in listing.get_json()["faults"])


def test_a_nan_that_python_accepts_is_refused_by_the_knob_itself():
    from app.common.errors import ApiError
    from app.payments.faults import LATENCY
    with pytest.raises(ApiError) as raised:
        LATENCY.validate({"median_seconds": float("nan")})
    assert raised.value.status == 400


# --- payments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("card", [CARD + "\n", CARD[:-1] + SUPERSCRIPT_TWO, CARD[:-1] + FULL_WIDTH_TWO,
                                  "\u0664" * 16])
def test_payments_card_numbers_are_ascii_digits_only(payments, card):
    body = {"order_ref": "o-1", "amount_cents": 100, "card_number": card}
    assert_error(payments.post("/charges", json=body), 400, "invalid_card_number")


@pytest.mark.parametrize("query", [f"product_id={ARABIC_INDIC_TWO}", f"product_id={FULL_WIDTH_TWO}",
                                   f"product_id=1&quantity={SUPERSCRIPT_TWO}", "product_id=1_0",
                                   "product_id=%201", "product_id=1&quantity=" + ARABIC_INDIC_TWO])
def test_payments_quotes_take_ascii_digits_only(payments, query):
    assert_error(payments.get(f"/quotes?{query}"), 400, "invalid_query")


@pytest.mark.parametrize("since", ["nan", "inf", "-inf", "1e999", "\u0661", "1_0"])
def test_payments_since_must_be_a_finite_ascii_number(payments, since):
    assert_error(payments.get("/charges", query_string={"since": since}), 400, "invalid_since")


@pytest.mark.parametrize("body", [
    '{"order_ref": "\\ud800", "amount_cents": 100, "card_number": "4242424242424242"}',
    '{"order_ref": "o", "amount_cents": NaN, "card_number": "4242424242424242"}',
    deeply_nested(4000),
], ids=["lone-surrogate", "nan", "nested"])
def test_payments_refuses_unreadable_json_with_400(payments, body):
    assert_error(payments.post("/charges", data=body, headers=JSON), 400, "invalid_json")
    assert payments.get("/charges").get_json()["charges"] == []


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,*/*;q=0.8", "*/*", None])
def test_payments_answers_json_errors_to_every_client(payments, accept):
    headers = {"Accept": accept} if accept else {}
    for response in (payments.get("/no/such/page", headers=headers),
                     payments.get("/quotes?product_id=x", headers=headers),
                     payments.put("/charges", headers=headers)):
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
        assert response.get_json()["message"]
