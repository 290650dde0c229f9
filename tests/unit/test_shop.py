"""Unit tests for the shop (Flask test client) against a real payments app served in a thread."""
import logging
import os
import sqlite3
import time
from contextlib import closing

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.common.faults import fault_store
from app.common.request_log import json_logger
from app.shop import db, faults, store
from app.shop.payments_client import Timeouts, payments_client
from processes.waiting import poll_until
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample
from tests.helpers.servers import TEST_TOKEN, ThreadedServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@pytest.fixture
def payments(payments_app):
    """payments, really listening on a loopback port."""
    payments_app.config["DECLINE_RATIO"] = 0.0
    with ThreadedServer(payments_app) as server:
        yield server


@pytest.fixture
def client(shop_app, payments):
    """A test client for a shop wired to the running payments server."""
    payments_client(shop_app).base_url = payments.url
    return shop_app.test_client()


@pytest.fixture
def offline_client(shop_app):
    """A test client for a shop whose payments service is not running."""
    return shop_app.test_client()


def new_cart_with_item(client, product_id=1, quantity=2):
    cart_id = client.post("/api/carts").get_json()["id"]
    response = client.post(f"/api/carts/{cart_id}/items", json={"product_id": product_id, "quantity": quantity})
    assert response.status_code == 200, response.get_json()
    return cart_id


def test_catalog_page_lists_every_product(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Espresso beans" in response.data and b"Barista course voucher" in response.data


def test_api_products_lists_the_seeded_catalog(client):
    products = client.get("/api/products").get_json()["products"]
    assert len(products) == 12
    assert {"id", "name", "price_cents", "tags"} <= set(products[0])


def test_product_view_counts_view_stock_call_and_own_work(client):
    views = sample("shop_product_views_total")
    quotes = sample("shop_dependency_request_duration_seconds_count", peer="payments", operation="quote",
                    outcome="ok")
    work = sample("shop_compute_duration_seconds_count", task="recommendations")
    product = client.get("/api/products/3").get_json()
    assert product["stock"] > 0 and len(product["recommendations"]) == 3
    assert client.get("/products/3").status_code == 200
    assert sample("shop_product_views_total") == views + 2
    assert sample("shop_dependency_request_duration_seconds_count", peer="payments", operation="quote",
                  outcome="ok") == quotes + 2
    assert sample("shop_compute_duration_seconds_count", task="recommendations") == work + 2


def test_product_page_degrades_when_payments_is_down(offline_client):
    failures = sample("shop_dependency_request_duration_seconds_count", peer="payments", operation="quote",
                      outcome="connection_error")
    response = offline_client.get("/products/2")
    assert response.status_code == 200 and b"Stock information is unavailable" in response.data
    assert offline_client.get("/api/products/2").get_json()["stock"] is None
    # one retry per call: a quote is a read, so retrying it is safe
    assert sample("shop_dependency_request_duration_seconds_count", peer="payments", operation="quote",
                  outcome="connection_error") == failures + 4


def test_unknown_product_is_404_json_for_api_and_page_for_browser(client):
    api = client.get("/api/products/999")
    assert api.status_code == 404 and api.get_json()["error"] == "unknown_product"
    page = client.get("/products/999", headers={"Accept": "text/html"})
    assert page.status_code == 404 and b"<html" in page.data


def test_checkout_places_order_and_counts_business_metrics(client):
    orders, placed = sample("shop_orders_total"), sample("shop_checkouts_total", outcome="placed")
    revenue, carts = sample("shop_order_value_dollars_sum"), sample("shop_carts_created_total")
    cart_id = new_cart_with_item(client, product_id=1, quantity=2)
    response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["total_cents"] == 4800
    assert client.get(f"/api/orders/{order['id']}").get_json()["charge_id"] == order["charge_id"]
    assert sample("shop_orders_total") == orders + 1
    assert sample("shop_checkouts_total", outcome="placed") == placed + 1
    assert sample("shop_order_value_dollars_sum") == pytest.approx(revenue + 48.0)
    assert sample("shop_carts_created_total") == carts + 1
    again = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert again.status_code == 409 and again.get_json()["error"] == "cart_closed"


def test_declined_card_is_a_business_outcome_not_an_error(client):
    declines = sample("shop_payment_declines_total", reason="card_expired")
    declined = sample("shop_checkouts_total", outcome="declined")
    orders = sample("shop_orders_total")
    cart_id = new_cart_with_item(client)
    response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": DECLINED_CARD})
    body = assert_error(response, 402, "payment_declined")
    assert body["message"] == "The card was declined; no order was placed."
    assert sample("shop_payment_declines_total", reason="card_expired") == declines + 1
    assert sample("shop_checkouts_total", outcome="declined") == declined + 1
    assert sample("shop_orders_total") == orders


def test_checkout_with_payments_down_fails_fast_with_503(shop_app, payments):
    client = shop_app.test_client()
    payments_client(shop_app).base_url = payments.url
    cart_id = new_cart_with_item(client)
    payments_client(shop_app).base_url = "http://127.0.0.1:9"  # discard port: connection refused
    failed = sample("shop_checkouts_total", outcome="payment_failed")
    response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert response.status_code == 503 and response.get_json()["error"] == "payments_unavailable"
    assert sample("shop_checkouts_total", outcome="payment_failed") == failed + 1


def test_more_than_the_cap_of_one_product_in_a_cart_is_a_409_naming_what_is_there(client):
    cart_id = client.post("/api/carts").get_json()["id"]
    assert client.post(f"/api/carts/{cart_id}/items", json={"product_id": 1, "quantity": 95}).status_code == 200
    response = client.post(f"/api/carts/{cart_id}/items", json={"product_id": 1, "quantity": 5})
    assert_error(response, 409, "cart_limit")
    assert "has 95 already" in response.get_json()["message"]
    assert client.get(f"/api/carts/{cart_id}").get_json()["items"][0]["quantity"] == 95, "a refusal changed the cart"


@pytest.mark.parametrize("body, status, code", [
    ({"product_id": 1, "quantity": 0}, 400, "invalid_quantity"),
    ({"product_id": 1, "quantity": -3}, 400, "invalid_quantity"),
    ({"product_id": 1, "quantity": 10**9}, 400, "invalid_quantity"),
    ({"product_id": 1, "quantity": "two"}, 400, "invalid_quantity"),
    ({"product_id": 1, "quantity": True}, 400, "invalid_quantity"),
    ({"product_id": "x"}, 400, "invalid_product_id"),
    ({"product_id": None}, 400, "invalid_product_id"),
    ({"product_id": 4242}, 404, "unknown_product"),
    ([1, 2], 400, "invalid_json"),
])
def test_bad_cart_input_gets_clear_4xx(client, body, status, code):
    cart_id = client.post("/api/carts").get_json()["id"]
    response = client.post(f"/api/carts/{cart_id}/items", json=body)
    assert response.status_code == status
    error = response.get_json()
    assert error["error"] == code and error["message"].endswith(".") and error["request_id"]


def test_ids_beyond_64_bits_are_404_not_500(client):
    huge = str(2**70)
    assert_error(client.get(f"/api/products/{huge}"), 404, "unknown_product")
    assert_error(client.get(f"/api/orders/{huge}"), 404, "unknown_order")
    # The body is checked before the cart is looked up: a bad product id is a 400 even for an unknown cart.
    assert_error(client.post("/api/carts/" + "1" * 32 + "/items", json={"product_id": 2**70}), 400,
                 "invalid_product_id")


def test_malformed_json_oversized_body_and_bad_ids(client):
    cart_id = client.post("/api/carts").get_json()["id"]
    malformed = client.post(f"/api/carts/{cart_id}/items", data="{not json", content_type="application/json")
    assert malformed.status_code == 400 and malformed.get_json()["error"] == "invalid_json"
    huge = client.post(f"/api/carts/{cart_id}/items", data="x" * 100_000, content_type="application/json")
    assert huge.status_code == 413 and huge.get_json()["error"] == "request_entity_too_large"
    assert_error(client.get("/api/carts/not-a-cart"), 404, "unknown_cart")
    assert_error(client.post("/api/carts/" + "0" * 32 + "/items", json={"product_id": 1}), 404, "unknown_cart")


def test_checkout_bad_input_is_rejected_and_counted(client):
    rejected = sample("shop_checkouts_total", outcome="rejected")
    empty_cart = client.post("/api/carts").get_json()["id"]
    assert_error(client.post(f"/api/carts/{empty_cart}/checkout", json={"card_number": CARD}), 409, "empty_cart")
    cart_id = new_cart_with_item(client)
    for card in ("12", "abcdabcdabcdabcd", 4242424242424242, None):
        response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": card})
        body = assert_error(response, 400, "invalid_card_number")
        assert body["message"] == "card_number must be 12 to 19 digits."
    assert sample("shop_checkouts_total", outcome="rejected") == rejected + 5


def test_unknown_paths_and_methods_share_one_label_value(client):
    before = sample("shop_http_request_duration_seconds_count", route="<unmatched>", method="other", code="404")
    assert client.open("/no/such/page", method="PROPFIND").status_code == 404
    assert sample("shop_http_request_duration_seconds_count", route="<unmatched>", method="other",
                  code="404") == before + 1
    wrong_method = client.delete("/api/products")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]


def test_html_flow_add_to_cart_checkout_and_order_page(client):
    added = client.post("/cart/items", data={"product_id": "4", "quantity": "1"})
    assert added.status_code == 303 and "cart_id=" in added.headers["Set-Cookie"]
    assert b"Pour-over dripper" in client.get("/cart").data
    placed = client.post("/checkout", data={"card_number": "4242 4242 4242 4242"})
    assert placed.status_code == 200 and b"Your order has been placed" in placed.data
    assert b"Your cart is empty" in client.get("/cart").data
    bad = client.post("/cart/items", data={"product_id": "4", "quantity": "0"}, headers={"Accept": "text/html"})
    assert bad.status_code == 400 and b"quantity must be" in bad.data


def test_request_id_is_returned_and_reused_when_well_formed(client):
    generated = client.get("/api/products").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/api/products", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    assert client.get("/api/products", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"] != "bad id!"


def test_request_log_is_one_json_line_with_route_and_request_id(client, capsys):
    client.get("/api/products/1", headers={"X-Request-ID": "log-check-1"})
    import json
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "log-check-1" in line]
    assert lines and lines[-1]["route"] == "/api/products/<int:product_id>" and lines[-1]["status"] == 200


def test_admin_api_needs_the_token(client):
    assert_error(client.get("/admin/faults"), 401, "unauthorized")
    assert_error(client.get("/admin/faults", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(client.put("/admin/faults/slow_code", json={}), 401, "unauthorized")
    listing = client.get("/admin/faults", headers=AUTH).get_json()["faults"]
    assert {fault["name"] for fault in listing} == {knob.name for knob in faults.KNOBS}


@pytest.mark.parametrize("path, body, status, code", [
    ("/admin/faults/nope", {}, 404, "unknown_fault"),
    ("/admin/faults/slow_code", {"extra_seconds": -1}, 400, "invalid_parameter"),
    ("/admin/faults/slow_code", {"extra_seconds": "1"}, 400, "invalid_parameter"),
    ("/admin/faults/slow_code", {"speed": 1}, 400, "unknown_parameter"),
    ("/admin/faults/slow_code", {"duration_seconds": 0}, 400, "invalid_duration"),
    ("/admin/faults/slow_code", {"duration_seconds": 10**6}, 400, "invalid_duration"),
])
def test_admin_api_rejects_bad_fault_settings(client, path, body, status, code):
    assert_error(client.put(path, json=body, headers=AUTH), status, code)


def test_silent_checkout_failure_says_placed_but_stores_nothing(client):
    client.put("/admin/faults/checkout_silent_failure", json={"duration_seconds": 60}, headers=AUTH)
    orders, placed = sample("shop_orders_total"), sample("shop_checkouts_total", outcome="placed")
    cart_id = new_cart_with_item(client)
    lines = client.get(f"/api/carts/{cart_id}").get_json()["items"]
    response = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert response.status_code == 201
    told = response.get_json()
    # It looks like an order (an id past any real order's, so no real order shows instead), but none is stored.
    assert 10**9 <= told["id"] < 2**31 and told["items"] == lines, told
    assert told["total_cents"] == sum(line["quantity"] * line["unit_price_cents"] for line in lines)
    assert told["charge_id"].startswith("ch_"), told
    assert_error(client.get(f"/api/orders/{told['id']}"), 404, "unknown_order")
    assert sample("shop_checkouts_total", outcome="placed") == placed + 1
    assert sample("shop_orders_total") == orders  # the business metric tells the truth


def test_bad_deploy_changes_version_and_fails_requests(client):
    client.put("/admin/faults/bad_deploy", json={"error_ratio": 1.0, "version": "2.0.0-rc1"}, headers=AUTH)
    assert client.get("/api/products").status_code == 500
    assert client.get("/healthz").status_code == 200
    assert build_info(client) == {"2.0.0-rc1": 1.0}
    client.delete("/admin/faults/bad_deploy", headers=AUTH)
    assert client.get("/api/products").status_code == 200
    assert build_info(client) == {"1.4.2": 1.0}, "the bad version must not linger (an info metric: current only)"


def build_info(client):
    """{version: value} of every shop_build_info series on a /metrics page."""
    families = text_string_to_metric_families(client.get("/metrics").data.decode())
    return {s.labels["version"]: s.value for f in families if f.name == "shop_build_info" for s in f.samples}


def test_build_info_shows_only_the_version_served_at_one(client):
    """An info metric: one series, the current version, value 1; never the others at 0."""
    assert build_info(client) == {"1.4.2": 1.0}
    client.put("/admin/faults/bad_deploy", json={"version": "3.0.0-beta"}, headers=AUTH)
    assert build_info(client) == {"3.0.0-beta": 1.0}
    client.put("/admin/faults/bad_deploy", json={"version": "3.0.1-beta"}, headers=AUTH)
    client.delete("/admin/faults/bad_deploy", headers=AUTH)
    assert build_info(client) == {"1.4.2": 1.0}


def test_route_errors_only_hit_their_route(client):
    client.put("/admin/faults/route_errors", json={"route": "/api/products", "ratio": 1.0}, headers=AUTH)
    failed = client.get("/api/products")
    assert failed.status_code == 500 and failed.get_json()["error"] == "internal_error"
    assert client.get("/api/products/1").status_code == 200


@pytest.mark.parametrize("request_args", [
    ("GET", "/api/products", {}),
    ("GET", "/", {}),
    ("GET", "/api/products/1", {}),   # reads the catalog twice (product, then recommendations): pays once
    ("POST", "/api/carts/{cart}/items", {"json": {"product_id": 1, "quantity": 1}}),
])
def test_slow_code_slows_every_catalog_read_once_per_request(client, request_args):
    method, path, kwargs = request_args
    path = path.format(cart=client.post("/api/carts", json={}).get_json()["id"])
    client.put("/admin/faults/slow_code", json={"extra_seconds": 0.2}, headers=AUTH)
    before = (sample("shop_compute_duration_seconds_count", task="catalog"),
              sample("shop_compute_duration_seconds_sum", task="catalog"))
    assert client.open(path, method=method, **kwargs).status_code < 300
    count, seconds = (sample("shop_compute_duration_seconds_count", task="catalog") - before[0],
                      sample("shop_compute_duration_seconds_sum", task="catalog") - before[1])
    assert count == 1 and seconds >= 0.2


def test_slow_code_leaves_requests_without_catalog_reads_alone(client):
    cart = client.post("/api/carts", json={}).get_json()["id"]
    client.put("/admin/faults/slow_code", json={"extra_seconds": 0.2}, headers=AUTH)
    before = sample("shop_compute_duration_seconds_count", task="catalog")
    assert client.get(f"/api/carts/{cart}").status_code == 200
    assert sample("shop_compute_duration_seconds_count", task="catalog") == before


def test_memory_leak_keeps_memory_until_fault_ends(client):
    client.put("/admin/faults/memory_leak", json={"bytes_per_request": 1024 * 1024}, headers=AUTH)
    for _ in range(3):
        client.get("/api/products")
    assert len(faults._leaked_blocks) >= 3
    client.delete("/admin/faults", headers=AUTH)
    client.get("/api/products")
    assert faults._leaked_blocks == []


def resident_bytes():
    """This process's resident memory, from /proc (what the shop's memory gauge reports too)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_memory_leak_is_capped_per_worker_and_given_back_when_the_fault_ends(client):
    mib = 1024 * 1024
    cap = 256 * mib  # issue 13: 16 requests at 64 MiB took a worker to 1.35 GB
    before = resident_bytes()
    client.put("/admin/faults/memory_leak", json={"bytes_per_request": 64 * mib}, headers=AUTH)
    for _ in range(6):
        client.get("/api/products")
    assert sum(len(block) for block in faults._leaked_blocks) == cap
    assert cap - 16 * mib < resident_bytes() - before < cap + 64 * mib
    client.delete("/admin/faults", headers=AUTH)
    client.get("/metrics")  # no shop traffic after the fault: the next scrape lets the memory go
    assert faults._leaked_blocks == []
    assert resident_bytes() - before < 32 * mib, "the leaked memory is still resident after the fault ended"


def test_fault_expires_on_its_own(shop_app):
    store = fault_store(shop_app)
    now = [1000.0]
    store.clock = lambda: now[0]
    store.switch_on("slow_code", {"extra_seconds": 0.1}, 30)
    assert store.params("slow_code") == {"extra_seconds": 0.1}
    now[0] += 31
    assert store.params("slow_code") is None


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    api_rules = {rule.rule for rule in client.application.url_map.iter_rules() if rule.rule.startswith("/api/")}
    documented = {path.replace("{", "<").replace("}", ">") for path in spec["paths"]}
    undocumented = {r for r in api_rules if r.replace("<int:", "<") not in documented} - {"/api/openapi.json"}
    assert not undocumented, f"API routes missing from openapi.yaml: {undocumented}"


def payments_charges_for(payments, cart_id):
    """Approved charges payments holds for one cart (its export, read over HTTP)."""
    charges = requests.get(payments.url + "/charges?since=0", timeout=5).json()["charges"]
    return [charge for charge in charges if charge["order_ref"] == f"cart-{cart_id}"]


def test_items_added_after_a_timed_out_charge_never_make_an_order_above_the_charge(shop_app, client, payments):
    # The scenario, scaled down: payments takes 1.5 s, the shop gives up after 1 s, payments charges anyway.
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)  # 2400 cents
    payments_client(shop_app).charge_timeouts = Timeouts(0.5, 1.0)
    requests.put(payments.url + "/admin/faults/latency", json={"median_seconds": 1.5, "sigma": 0.0},
                 headers=AUTH, timeout=5).raise_for_status()
    try:
        timed_out = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    finally:
        requests.delete(payments.url + "/admin/faults/latency", headers=AUTH, timeout=5).raise_for_status()
    assert_error(timed_out, 504, "payments_unavailable")
    charged = poll_until(lambda: payments_charges_for(payments, cart_id), "payments to store the first charge", 10)
    assert [charge["amount_cents"] for charge in charged] == [2400]

    added = client.post(f"/api/carts/{cart_id}/items", json={"product_id": 2, "quantity": 3})
    again = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert again.status_code == 201, again.get_json()
    charges = payments_charges_for(payments, cart_id)
    assert [charge["amount_cents"] for charge in charges] == [again.get_json()["total_cents"]] == [2400]
    assert again.get_json()["charge_id"] == charges[0]["id"]
    # The cart was frozen while its charge was in flight: the change was refused, not lost silently.
    assert_error(added, 409, "checkout_pending")


def test_declined_checkout_unfreezes_the_cart_for_another_card_or_more_items(client, payments):
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)
    assert_error(client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": DECLINED_CARD}), 402,
                 "payment_declined")
    assert client.post(f"/api/carts/{cart_id}/items", json={"product_id": 2, "quantity": 1}).status_code == 200
    placed = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert placed.status_code == 201, placed.get_json()
    assert [c["amount_cents"] for c in payments_charges_for(payments, cart_id)] == [placed.get_json()["total_cents"]]


def test_retry_with_another_card_while_a_charge_may_be_in_flight_is_409(shop_app, client, payments):
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)
    payments_client(shop_app).charge_timeouts = Timeouts(0.5, 0.3)
    requests.put(payments.url + "/admin/faults/latency", json={"median_seconds": 0.6, "sigma": 0.0},
                 headers=AUTH, timeout=5).raise_for_status()
    try:
        assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 504
    finally:
        requests.delete(payments.url + "/admin/faults/latency", headers=AUTH, timeout=5).raise_for_status()
    poll_until(lambda: payments_charges_for(payments, cart_id), "payments to store the first charge", 10)
    other_card = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": "5555555555554444"})
    assert assert_error(other_card, 409, "checkout_pending")["message"] == (
        "A payment for this cart was already started with a different card; check out again with the same card to "
        "finish it.")
    assert client.get(f"/api/carts/{cart_id}").get_json()["checkout_pending"] is True
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201
    assert len(payments_charges_for(payments, cart_id)) == 1


def test_no_order_is_stored_when_payments_charged_another_amount(client, payments, payments_app):
    # A payments bug, set up in its database: the cart's key already holds an approved charge of 1 cent.
    from app.payments.api import request_hash as payments_request_hash
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)
    fingerprint = payments_request_hash(f"cart-{cart_id}", 2400, CARD)
    with closing(sqlite3.connect(payments_app.config["DATABASE"])) as connection, connection:
        connection.execute("INSERT INTO charges VALUES ('ch_bug', ?, ?, 1, 'approved', NULL, ?, ?)",
                           (f"cart-{cart_id}-0", f"cart-{cart_id}", time.time(), fingerprint))
    orders = sample("shop_orders_total")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = json_logger(client.application)
    logger.addHandler(handler)
    try:
            refused = assert_error(client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}), 502,
                               "payment_mismatch")
    finally:
        logger.removeHandler(handler)
    assert refused["message"] == ("The payment service charged a different amount than the order total; no order was "
                                  "placed and the charge will be reconciled.")
    assert sample("shop_orders_total") == orders
    # What reconciling the charge needs, logged for the people who will do it.
    mismatch, = [record for record in records if record.levelno == logging.ERROR]
    assert mismatch.getMessage() == "charged amount differs from the order total"
    assert mismatch.fields == {"cart_id": cart_id, "charge_id": "ch_bug", "charged_cents": 1, "order_cents": 2400}
    assert client.get(f"/api/carts/{cart_id}").get_json()["checked_out"] is False


def test_orders_are_served_a_page_at_a_time(client):
    for _ in range(3):
        cart_id = new_cart_with_item(client)
        assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201
    first = client.get("/api/orders?since=0&limit=2").get_json()
    assert len(first["orders"]) == 2 and first["next_after_id"] == first["orders"][-1]["id"]
    rest = client.get(f"/api/orders?since=0&limit=2&after_id={first['next_after_id']}").get_json()
    assert len(rest["orders"]) == 1 and rest["next_after_id"] is None
    everything = client.get("/api/orders?since=0").get_json()
    assert [o["id"] for o in everything["orders"]] == [o["id"] for o in first["orders"] + rest["orders"]]
    for query in ("limit=0", "limit=1001", "limit=\u00b2", "limit=-1", "after_id=x", "after_id=" + "9" * 20):
        assert_error(client.get(f"/api/orders?{query}"), 400, f"invalid_{query.split('=')[0]}")


def test_abandoning_carts_uses_an_index_not_a_scan_of_every_cart(shop_app):
    with shop_app.app_context():
        plan = " ".join(row["detail"] for row in db.get_db().execute(
            "EXPLAIN QUERY PLAN " + store.ABANDON_OPEN_CARTS, (0.0,)).fetchall())
    assert "carts_open_created_at" in plan and "SCAN" not in plan, plan


def test_checkout_of_a_well_formed_cart_id_we_never_issued_is_a_404_saying_so(client):
    body = assert_error(client.post("/api/carts/" + "0" * 32 + "/checkout", json={"card_number": CARD}),
                        404, "unknown_cart")
    assert body["message"] == "There is no cart with that id."


def test_checkout_of_an_empty_cart_says_what_to_do(client):
    cart_id = client.post("/api/carts").get_json()["id"]
    body = assert_error(client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}), 409, "empty_cart")
    assert body["message"] == "The cart is empty; add a product before checking out."


def test_a_retry_after_payments_was_down_orders_the_items_frozen_by_the_first_attempt(shop_app, payments):
    client = shop_app.test_client()
    payments_client(shop_app).base_url = payments.url
    cart_id = new_cart_with_item(client, product_id=2, quantity=3)
    lines = client.get(f"/api/carts/{cart_id}").get_json()["items"]
    payments_client(shop_app).base_url = "http://127.0.0.1:9"  # discard port: connection refused
    assert_error(client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}), 503,
                 "payments_unavailable")
    payments_client(shop_app).base_url = payments.url
    again = client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["items"] == lines
    assert client.get(f"/api/orders/{again.get_json()['id']}").get_json()["items"] == lines


def test_a_decline_for_a_reason_the_shop_does_not_know_is_counted_as_other(client, payments_app):
    # A newer payments release's reason, set up in its database: the cart's key already holds that decline.
    from app.payments.api import request_hash as payments_request_hash
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)
    fingerprint = payments_request_hash(f"cart-{cart_id}", 2400, CARD)
    with closing(sqlite3.connect(payments_app.config["DATABASE"])) as connection, connection:
        connection.execute("INSERT INTO charges VALUES ('ch_new', ?, ?, 2400, 'declined', 'card_lost', ?, ?)",
                           (f"cart-{cart_id}-0", f"cart-{cart_id}", time.time(), fingerprint))
    other = sample("shop_payment_declines_total", reason="other")
    assert_error(client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}), 402, "payment_declined")
    assert sample("shop_payment_declines_total", reason="other") == other + 1


def test_adding_to_a_checked_out_cart_is_a_409_that_says_to_start_a_new_one(client):
    cart_id = new_cart_with_item(client)
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 201
    added = client.post(f"/api/carts/{cart_id}/items", json={"product_id": 2, "quantity": 1})
    assert assert_error(added, 409, "cart_closed")["message"] == "This cart is already checked out; start a new one."


def test_a_checkout_that_fails_unexpectedly_is_counted_as_an_error(client, payments_app):
    # A payments bug, set up in its database: an approved charge without an id, which no order can be stored with.
    from app.payments.api import request_hash as payments_request_hash
    cart_id = new_cart_with_item(client, product_id=1, quantity=1)
    fingerprint = payments_request_hash(f"cart-{cart_id}", 2400, CARD)
    with closing(sqlite3.connect(payments_app.config["DATABASE"])) as connection, connection:
        connection.execute("INSERT INTO charges VALUES (NULL, ?, ?, 2400, 'approved', NULL, ?, ?)",
                           (f"cart-{cart_id}-0", f"cart-{cart_id}", time.time(), fingerprint))
    errors = sample("shop_checkouts_total", outcome="error")
    assert client.post(f"/api/carts/{cart_id}/checkout", json={"card_number": CARD}).status_code == 500
    assert sample("shop_checkouts_total", outcome="error") == errors + 1


def test_a_closed_or_frozen_cart_is_refused_before_asking_payments_for_stock(shop_app, payments):
    client = shop_app.test_client()
    payments_client(shop_app).base_url = payments.url
    closed, frozen = new_cart_with_item(client), new_cart_with_item(client)
    assert client.post(f"/api/carts/{closed}/checkout", json={"card_number": CARD}).status_code == 201
    payments_client(shop_app).base_url = "http://127.0.0.1:9"  # discard port: connection refused
    assert client.post(f"/api/carts/{frozen}/checkout", json={"card_number": CARD}).status_code == 503
    # Payments is down, yet the answer is the cart's state, not a 503: the state is checked first.
    assert_error(client.post(f"/api/carts/{closed}/items", json={"product_id": 2, "quantity": 1}), 409, "cart_closed")
    assert_error(client.post(f"/api/carts/{frozen}/items", json={"product_id": 2, "quantity": 1}), 409,
                 "checkout_pending")

