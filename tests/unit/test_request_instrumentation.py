"""Request instrumentation and the fault admin API, through a real Flask app (the shop's).

Label values must stay bounded: a matched request is labelled with its URL
rule, never the raw path, whatever the status. The admin API must honour the
duration it is given: a fault expires when asked, not at a default.
"""
import pytest
from prometheus_client import REGISTRY

from app.common.faults import DEFAULT_DURATION_SECONDS
from tests.helpers.metrics_reading import sample
from tests.helpers.servers import TEST_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
DURATION = "shop_http_request_duration_seconds_count"


@pytest.fixture
def client(shop_app):
    """The shop without a payments server: these routes never call it."""
    return shop_app.test_client()


def route_labels():
    """Every `route` label value of the shop's request histogram in this process."""
    return {s.labels["route"] for family in REGISTRY.collect() for s in family.samples if s.name == DURATION}


@pytest.mark.parametrize("path, rule, code", [
    ("/api/orders/987654", "/api/orders/<int:order_id>", "404"),
    ("/api/carts/no-such-cart-4711", "/api/carts/<cart_id>", "404"),
    ("/api/products", "/api/products", "200"),
])
def test_a_matched_request_is_labelled_with_its_url_rule_not_its_path(client, path, rule, code):
    before = sample(DURATION, route=rule, method="GET", code=code)
    assert client.get(path).status_code == int(code)
    assert sample(DURATION, route=rule, method="GET", code=code) == before + 1, (
        f"GET {path} was not counted under its URL rule {rule}")
    assert path not in route_labels() or path == rule, f"the raw path {path} became a label value"


@pytest.mark.parametrize("seconds", [5, 600])
def test_a_fault_lasts_the_duration_it_was_switched_on_for(client, seconds):
    response = client.put("/admin/faults/slow_code", json={"duration_seconds": seconds, "extra_seconds": 0.01},
                          headers=AUTH)
    assert response.status_code == 200, response.get_json()
    listed = {fault["name"]: fault for fault in response.get_json()["faults"]}["slow_code"]
    assert listed["active"] and seconds - 2 <= listed["seconds_left"] <= seconds, (
        f"switched on for {seconds} s, but {listed['seconds_left']} s are left")
    client.delete("/admin/faults/slow_code", headers=AUTH)


def test_a_fault_without_a_duration_gets_the_default(client):
    response = client.put("/admin/faults/checkout_silent_failure", headers=AUTH)
    listed = {fault["name"]: fault for fault in response.get_json()["faults"]}["checkout_silent_failure"]
    assert DEFAULT_DURATION_SECONDS - 2 <= listed["seconds_left"] <= DEFAULT_DURATION_SECONDS
    client.delete("/admin/faults", headers=AUTH)


@pytest.mark.parametrize("duration", [0, -5, 3601, "60", True, None])
def test_a_duration_out_of_range_or_not_a_number_is_refused(client, duration):
    response = client.put("/admin/faults/slow_code", json={"duration_seconds": duration}, headers=AUTH)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_duration", response.get_json()
