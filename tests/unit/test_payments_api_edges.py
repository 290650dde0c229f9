"""payments' simulated service time, and the exact bounds of what its API accepts.

The latency model is what the bench's budgets and the latency alerts are tuned against: a log-normal service time
whose median is the configured one and whose log-spread is sigma (0.4 unless said). Found by mutation testing
(issue 17): a change to the model's constants, or to a bound by one, made no other test fail.
"""
import math
import random
import statistics
import time
from types import SimpleNamespace

import pytest

from app.payments import api
from tests.helpers.errors import assert_error

CHARGE = {"order_ref": "cart-1", "amount_cents": 1234, "card_number": "4242424242424242"}
SAMPLES = 20_000  # with sigma 0.4 the sample median and log-spread land within 1% of the true ones (~5 standard errors)


@pytest.fixture
def seeded(monkeypatch):
    """The API's random numbers from a fixed seed, so the statistics below are reproducible."""
    monkeypatch.setattr(api, "random", random.Random(20261129))


@pytest.fixture
def client(payments_app):
    payments_app.config["DECLINE_RATIO"] = 0.0
    return payments_app.test_client()


@pytest.fixture
def slept(monkeypatch):
    """The seconds each request slept for, instead of sleeping."""
    durations = []
    monkeypatch.setattr(api, "time", SimpleNamespace(sleep=durations.append, time=time.time))
    return durations


def log_ratios(median, **sigma):
    return [math.log(api._lognormal_seconds(median, **sigma) / median) for _ in range(SAMPLES)]


def test_service_time_has_the_configured_median_and_a_spread_of_sigma_0_4(seeded):
    """Half the answers are faster than the median, and the log of the time over the median spreads with standard
    deviation 0.4 (so p99 is about 2.5 times the median): the default the bench and alerts assume."""
    ratios = log_ratios(0.05)
    assert abs(statistics.median(ratios)) < 0.02, "the service time is not centred on the median"
    assert abs(statistics.fmean(ratios)) < 0.02, "the log of the service time is not centred on the median's"
    assert abs(statistics.pstdev(ratios) - 0.4) < 0.02, "the default spread is not sigma 0.4"


def test_service_time_spread_follows_the_sigma_asked_for(seeded):
    """A caller's sigma sets the spread, around the same median."""
    for sigma in (0.1, 1.0):
        ratios = log_ratios(0.2, sigma=sigma)
        assert abs(statistics.median(ratios)) < 0.03, f"sigma {sigma} moved the median"
        assert abs(statistics.pstdev(ratios) / sigma - 1) < 0.03, f"the spread is not sigma {sigma}"


def test_service_time_without_spread_is_the_median_itself():
    """sigma 0: every answer takes exactly the median: the median is a scale, not an offset or a divisor."""
    assert {api._lognormal_seconds(0.3, sigma=0.0) for _ in range(10)} == {0.3}


def test_a_quote_sleeps_a_service_time_around_the_quote_median(client, payments_app, slept, seeded):
    """/quotes takes QUOTE_MEDIAN_SECONDS in the median, not the charge's median."""
    payments_app.config.update(QUOTE_MEDIAN_SECONDS=0.5, CHARGE_MEDIAN_SECONDS=5.0)
    for _ in range(100):
        assert client.get("/quotes?product_id=3&quantity=1").status_code == 200
    assert 0.4 < statistics.median(slept) < 0.6, f"quotes slept {statistics.median(slept)} s in the median"


def test_a_charge_sleeps_a_service_time_around_the_charge_median(client, payments_app, slept, seeded):
    """/charges takes CHARGE_MEDIAN_SECONDS in the median, not the quote's median."""
    payments_app.config.update(QUOTE_MEDIAN_SECONDS=5.0, CHARGE_MEDIAN_SECONDS=0.5)
    for _ in range(100):
        assert client.post("/charges", json=CHARGE).status_code == 200
    assert 0.4 < statistics.median(slept) < 0.6, f"charges slept {statistics.median(slept)} s in the median"


@pytest.mark.parametrize("query", ["product_id=1&quantity=1", f"product_id={api.MAX_PRODUCT_ID}&quantity=999",
                                   "product_id=7"])
def test_quotes_take_the_whole_documented_range(client, query):
    """product_id 1 to 2**31 and quantity 1 to 999 (1 when absent) are all valid, as openapi.yaml says."""
    response = client.get("/quotes?" + query)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    asked = dict(part.split("=") for part in query.split("&"))
    assert (answer["product_id"], answer["quantity"]) == (int(asked["product_id"]), int(asked.get("quantity", 1)))


@pytest.mark.parametrize("query", [f"product_id={api.MAX_PRODUCT_ID + 1}", "product_id=1&quantity=1000",
                                   "product_id=0", "product_id=1&quantity=0"])
def test_quotes_outside_the_documented_range_are_a_400_naming_it(client, query):
    body = assert_error(client.get("/quotes?" + query), 400, "invalid_query")
    assert body["message"] == "product_id must be from 1 to 2147483648 and quantity from 1 to 999."


@pytest.mark.parametrize("query", ["product_id=x", "quantity=1", "product_id=1&quantity=two", "product_id=-1"])
def test_quotes_without_whole_numbers_are_a_400_saying_so(client, query):
    body = assert_error(client.get("/quotes?" + query), 400, "invalid_query")
    assert body["message"] == "product_id and quantity must be whole numbers in ASCII digits."


@pytest.mark.parametrize("product_id, stock", [(1, 95), (6, 63), (12, 196)])
def test_stock_is_the_same_fixed_number_per_product(client, product_id, stock):
    """Stock is 20 + (sha256 of the id) mod 180: tests and the shop's cart rules rely on these numbers."""
    assert client.get(f"/quotes?product_id={product_id}").get_json()["available"] == stock
