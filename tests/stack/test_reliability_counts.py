"""Nothing lost end to end: what the load generator received, the shop counted and Prometheus stored agree
exactly, through a payments outage and two reloads of every shop worker.

The load generator (its library, with its own journeys, schedule and
metrics) drives a bounded open-loop run. Every HTTP response it receives is
tallied by (route template, method, status code), the labels the shop uses.
The shop's counters are read directly from /metrics, and Prometheus's as the
raw counter values at two instants (each after a scrape that follows the
quiet point), because increase() extrapolates.
"""
import collections
import os
import random
import signal
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from werkzeug.exceptions import HTTPException

from app.shop import create_app
from bench.procfs import children
from launcher.stack import Stack
from loadgen.journeys import ShopClient
from loadgen.metrics import LoadgenMetrics
from loadgen.traffic import Traffic
from processes.waiting import poll_until
from tests.helpers.metrics_reading import scrape, total

RATE = 25          # journeys per second
DURATION = 24      # seconds of traffic
METRIC = "shop_http_request_duration_seconds_count"
CHECKOUT = "/api/carts/<cart_id>/checkout"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """payments, shop and Prometheus in fast mode, with no baseline traffic of their own."""
    with Stack(str(tmp_path_factory.mktemp("counts")), services=["payments", "shop", "prometheus"],
               fast=True, loadgen_rate=0) as running:
        yield running


@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """Map (method, path) to the shop's route label, using the shop's own URL map."""
    adapter = create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("url-map"))}).url_map.bind("shop")

    def route(method, path):
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
            return rule.rule
        except HTTPException:
            return "<unmatched>"
    return route


class CountingShopClient(ShopClient):
    """The load generator's shop client, tallying every response it receives by the shop's labels."""

    def __init__(self, base_url, route, **kwargs):
        super().__init__(base_url, **kwargs)
        self.route = route
        self.seen = collections.Counter()
        self.lock = threading.Lock()

    def session(self):
        session = super().session()
        if self._tally not in session.hooks["response"]:
            session.hooks["response"].append(self._tally)
        return session

    def _tally(self, response, *_args, **_kwargs):
        method = response.request.method
        key = (self.route(method, urlsplit(response.request.url).path), method, str(response.status_code))
        with self.lock:
            self.seen[key] += 1


def shop_counts(url):
    """The shop's request counter per (route, method, code), read directly; scrapes themselves excluded."""
    return {(dict(labels)["route"], dict(labels)["method"], dict(labels)["code"]): value
            for (name, labels), value in scrape(url).items()
            if name == METRIC and dict(labels)["route"] != "/metrics"}


def prometheus(stack, query, at=None):
    """An instant query's result list."""
    params = {"query": query} if at is None else {"query": query, "time": f"{at:.3f}"}
    body = requests.get(stack.url("prometheus") + "/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def prometheus_counts(stack):
    """Prometheus's latest raw counter values per (route, method, code), after a scrape that follows now."""
    mark = time.time()
    scraped_at = poll_until(lambda: next((float(r["value"][1]) for r in prometheus(stack, 'timestamp(up{job="shop"})')
                                          if float(r["value"][1]) > mark), None),
                            "Prometheus to scrape the shop after the quiet point", 30)
    query = f'sum by (route, method, code) ({METRIC}{{job="shop", route!="/metrics"}})'
    return scraped_at, {(r["metric"]["route"], r["metric"]["method"], r["metric"]["code"]): float(r["value"][1])
                        for r in prometheus(stack, query, scraped_at)}


def difference(after, before):
    """after - before per key, without zero entries."""
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in set(after) | set(before)}
    return {key: value for key, value in delta.items() if value}


def journey_outcomes(metrics):
    """The load generator's finished journeys by outcome, from its request counter."""
    outcomes = collections.Counter()
    for sample in metrics.requests.collect()[0].samples:
        if sample.name.endswith("_total"):
            outcomes[sample.labels["outcome"]] += sample.value
    return outcomes


def set_payments_fault(stack, name, on):
    """Switch a payments fault knob on (for 60 s) or off."""
    url = f"{stack.url('payments')}/admin/faults/{name}"
    headers = {"Authorization": f"Bearer {stack.fault_token}"}
    response = (requests.put(url, json={"duration_seconds": 60}, headers=headers, timeout=5) if on
                else requests.delete(url, headers=headers, timeout=5))
    assert response.status_code == 200, response.text


def test_loadgen_shop_and_prometheus_counts_agree_through_outage_and_restarts(stack, routes):
    shop = stack.url("shop")
    before = shop_counts(shop)
    before_at, prometheus_before = prometheus_counts(stack)
    assert prometheus_before == before, "Prometheus and the shop disagree before any traffic"
    business_before = scrape(shop)

    metrics = LoadgenMetrics(*Traffic.metric_labels())
    traffic = Traffic(shop, RATE, metrics, duration=DURATION, seed=20240601)
    client = traffic.shop = CountingShopClient(shop, routes, rng=random.Random(7))
    expected_journeys = RATE * DURATION
    workers_before = set(children(stack.processes["shop"].pid))
    # Under pytest, prometheus_client runs in multiprocess mode (see conftest), where a new counter with an
    # earlier test's name and labels continues from that value in this process: count from here.
    outcomes_before = journey_outcomes(metrics)
    traffic.start()
    try:
        def after(share, what):
            poll_until(lambda: traffic.stats.intended >= share * expected_journeys, what, DURATION + 30)
        after(0.2, "a fifth of the run before the payments outage")
        set_payments_fault(stack, "refuse", True)
        after(0.35, "the outage to bite before the first worker reload")
        os.kill(stack.processes["shop"].pid, signal.SIGHUP)  # the master replaces every worker
        after(0.55, "the middle of the run to end the outage")
        set_payments_fault(stack, "refuse", False)
        after(0.7, "most of the run before the second worker reload")
        os.kill(stack.processes["shop"].pid, signal.SIGHUP)
        finished = traffic.wait(DURATION + 30)
    finally:
        drained = traffic.stop(drain_timeout=30)
        set_payments_fault(stack, "refuse", False)
    assert finished, "the load generator's schedule did not finish"
    assert drained, "journeys were still running 30 s after the schedule ended"
    workers_after = poll_until(lambda: set(children(stack.processes["shop"].pid)) - workers_before,
                               "the shop's workers to be replaced by the reloads", 30)
    assert workers_after and not workers_after & workers_before

    seen = dict(client.seen)
    outcomes = journey_outcomes(metrics)
    outcomes.subtract(outcomes_before)
    # The load generator lost nothing either: every scheduled journey finished, none failed to connect.
    assert sum(outcomes.values()) == traffic.loop.scheduled >= 0.9 * expected_journeys
    assert not {k: v for k, v in outcomes.items() if k in ("timeout", "connection_error", "dropped") and v}, outcomes
    # The outage really happened: adding to a cart needs a stock quote, which failed with 503.
    assert seen.get(("/api/carts/<cart_id>/items", "POST", "503"), 0) > 0, seen

    shop_delta = difference(shop_counts(shop), before)
    assert shop_delta == seen, "the shop counted requests the load generator did not receive, or missed some"
    after_at, prometheus_after = prometheus_counts(stack)
    assert difference(prometheus_after, prometheus_before) == seen, "Prometheus's counters disagree"
    window = f"{int(after_at - before_at) + 1}s"
    resets = prometheus(stack, f'sum(resets({METRIC}{{job="shop"}}[{window}]))', after_at)
    assert float(resets[0]["value"][1]) == 0, "a request counter went backwards across the worker reloads"

    # Business counters tell the same story as the responses.
    business = scrape(shop)

    def grew(name, **labels):
        return total(business, name, **labels) - total(business_before, name, **labels)
    checkouts = {code: n for (route, method, code), n in seen.items() if route == CHECKOUT}
    assert grew("shop_checkouts_total", outcome="placed") == checkouts.get("201", 0) == grew("shop_orders_total")
    assert grew("shop_checkouts_total", outcome="declined") == checkouts.get("402", 0) == outcomes["declined"]
    assert grew("shop_checkouts_total", outcome="payment_failed") == sum(
        n for code, n in checkouts.items() if code in ("502", "503", "504"))
    assert grew("shop_carts_created_total") == seen.get(("/api/carts", "POST", "201"), 0)
