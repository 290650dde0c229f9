"""Integration: real gunicorn (2 workers) for shop and payments, real HTTP, exact counts."""
import collections
import glob
import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from launcher import binaries
from tests.helpers.metrics_reading import scrape, total, value
from tests.helpers.servers import shop_and_payments, start_service

TOKEN = "integration-token"
CARD = "4242424242424242"
UNMATCHED = "<unmatched>"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """payments and shop under gunicorn; shop recycles workers every ~100 requests."""
    with shop_and_payments(str(tmp_path_factory.mktemp("gunicorn")), TOKEN, shop_max_requests=100,
                           shop_env={"PAYMENTS_CHARGE_TIMEOUT_SECONDS": "1.0",
                                     "PAYMENTS_CONNECT_TIMEOUT_SECONDS": "0.5"}) as services:
        yield services


class Journeys:
    """Mixed traffic that records, per (route template, method, status), what the client saw."""

    def __init__(self, base):
        self.base = base
        self.seen = collections.Counter()
        self.lock = threading.Lock()
        self.local = threading.local()

    def session(self):
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def send(self, method, path, route, **kwargs):
        response = self.session().request(method, self.base + path, timeout=10, **kwargs)
        with self.lock:
            self.seen[(route, method, str(response.status_code))] += 1
        return response

    def one(self, rng):
        """One journey (1-4 requests), chosen by weight."""
        kind = rng.choices(["browse", "view", "checkout", "bad"], weights=[3, 3, 2, 2])[0]
        if kind == "browse":
            self.send("GET", "/api/products", "/api/products")
            self.send("GET", "/", "/")
        elif kind == "view":
            product = rng.randint(1, 14)  # 13 and 14 do not exist: 404 on a matched route
            self.send("GET", f"/api/products/{product}", "/api/products/<int:product_id>")
        elif kind == "checkout":
            cart = self.send("POST", "/api/carts", "/api/carts").json()["id"]
            self.send("POST", f"/api/carts/{cart}/items", "/api/carts/<cart_id>/items",
                      json={"product_id": rng.randint(1, 12), "quantity": rng.randint(1, 3)})
            self.send("POST", f"/api/carts/{cart}/checkout", "/api/carts/<cart_id>/checkout",
                      json={"card_number": CARD})
        else:
            cart = uuid.uuid4().hex
            self.send("POST", f"/api/carts/{cart}/items", "/api/carts/<cart_id>/items", data="{oops",
                      headers={"Content-Type": "application/json"})
            self.send("GET", f"/no/such/{rng.randint(0, 10**6)}", UNMATCHED)
            self.send("DELETE", "/api/products", UNMATCHED)


def request_counts(samples):
    """shop_http_request_duration_seconds_count per (route, method, code), /metrics itself excluded."""
    counts = {}
    for (name, labels), number in samples.items():
        labels = dict(labels)
        if name == "shop_http_request_duration_seconds_count" and labels["route"] != "/metrics":
            counts[(labels["route"], labels["method"], labels["code"])] = number
    return counts


def test_request_counter_is_exact_across_workers_and_restarts(services):
    before = request_counts(scrape(services["shop"]))
    journeys = Journeys(services["shop"])
    rng = random.Random(7)
    seeds = [rng.randint(0, 10**9) for _ in range(1000)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(journeys.one, random.Random(seed)) for seed in seeds]
        for index, future in enumerate(futures):
            future.result(timeout=60)
            if index in (300, 600):
                os.kill(services["shop_process"].pid, signal.SIGHUP)  # master reloads: every worker replaced
    sent = sum(journeys.seen.values())
    assert sent >= 2000, f"only {sent} requests were sent"
    after = request_counts(scrape(services["shop"]))
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in set(after) | set(before)}
    delta = {key: number for key, number in delta.items() if number}
    assert delta == dict(journeys.seen)
    # Worker recycling really happened, and dead workers' files were folded away.
    with open(os.path.join(services["workdir"], "shop.log")) as log:
        pids = {json.loads(line)["pid"] for line in log if line.startswith("{")}
    assert len(pids) > 10, f"expected many recycled workers, saw {len(pids)} pids"
    files = glob.glob(os.path.join(services["workdir"], "metrics-shop", "*.db"))
    assert len(files) <= 20, f"{len(files)} metric files after {len(pids)} workers: dead files pile up"


@pytest.mark.parametrize("service", ["shop", "payments"])
def test_promtool_finds_nothing_to_lint(services, service):
    body = requests.get(services[service] + "/metrics", timeout=5).content
    result = subprocess.run([binaries.find("promtool"), "check", "metrics"], input=body,
                            capture_output=True, timeout=30)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), \
        (result.stdout + result.stderr).decode()


def series_count(url):
    text = requests.get(url + "/metrics", timeout=5).text
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def test_random_paths_and_methods_do_not_grow_series(services):
    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND", "BREW", "X-RANDOM"]
    rng = random.Random(11)
    before = {name: series_count(services[name]) for name in ("shop", "payments")}

    def hammer(name, count, seed):
        session, local_rng = requests.Session(), random.Random(seed)
        for _ in range(count):
            path = "/" + "/".join(uuid.UUID(int=local_rng.getrandbits(128)).hex[:local_rng.randint(1, 12)]
                                  for _ in range(local_rng.randint(1, 4)))
            response = session.request(local_rng.choice(methods), services[name] + path, timeout=10)
            assert response.status_code < 500, (path, response.status_code)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(hammer, name, 1250, rng.randint(0, 10**9)) for name in ("shop", "shop", "payments",
                                                                                       "payments")]
        for job in jobs:
            job.result(timeout=300)
    # Bound: one route label (<unmatched>) x 8 method labels x 2 codes x 14 histogram samples, plus slack.
    bound = 8 * 2 * 14 + 50
    for name in ("shop", "payments"):
        grown = series_count(services[name]) - before[name]
        assert grown <= bound, f"{name} grew by {grown} series after 5,000 junk requests (bound {bound})"


def set_fault(services, service, name, body=None):
    response = requests.put(f"{services[service]}/admin/faults/{name}", json=body or {},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert response.status_code == 200, response.text


def clear_faults(services, service):
    requests.delete(f"{services[service]}/admin/faults", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)


def test_hanging_payments_fail_checkout_within_budget_and_other_pages_answer(services):
    shop = services["shop"]
    cart = requests.post(shop + "/api/carts", timeout=5).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1}, timeout=5).raise_for_status()
    budget = 0.5 + 1.0  # PAYMENTS_CONNECT_TIMEOUT_SECONDS + PAYMENTS_CHARGE_TIMEOUT_SECONDS; no retry on timeout
    set_fault(services, "payments", "hang", {"duration_seconds": 60})
    try:
        result = {}

        def checkout():
            started = time.monotonic()
            response = requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, timeout=30)
            result.update(status=response.status_code, elapsed=time.monotonic() - started, body=response.json())
        worker = threading.Thread(target=checkout)
        worker.start()
        other_pages = [requests.get(shop + "/api/products", timeout=5) for _ in range(5)]
        worker.join(timeout=30)
        assert all(page.status_code == 200 for page in other_pages)
        assert result["status"] == 504 and result["body"]["error"] == "payments_unavailable"
        assert result["elapsed"] <= budget + 0.5, f"checkout took {result['elapsed']:.2f} s (budget {budget} s)"
    finally:
        clear_faults(services, "payments")


def test_refused_connections_fail_checkout_fast_with_503(services):
    shop = services["shop"]
    before = scrape(shop)
    cart = requests.post(shop + "/api/carts", timeout=5).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 2}, timeout=5).raise_for_status()
    set_fault(services, "payments", "refuse", {"duration_seconds": 60})
    try:
        started = time.monotonic()
        response = requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, timeout=10)
        assert response.status_code == 503 and time.monotonic() - started < 1.0
    finally:
        clear_faults(services, "payments")
    after = scrape(shop)
    labels = {"peer": "payments", "operation": "charge", "outcome": "connection_error"}
    assert total(after, "shop_dependency_request_duration_seconds_count", **labels) - \
        total(before, "shop_dependency_request_duration_seconds_count", **labels) == 2  # one bounded retry
    assert value(after, "shop_checkouts_total", outcome="payment_failed") - \
        value(before, "shop_checkouts_total", outcome="payment_failed") == 1


@pytest.mark.parametrize("service", ["shop", "payments"])
def test_admin_endpoints_answer_401_without_or_with_wrong_token(services, service):
    url = services[service] + "/admin/faults"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 200


def place_order(url):
    """Place an order, retrying on payments' random declines (about 4 % of charges)."""
    for _ in range(10):
        cart = requests.post(url + "/api/carts", timeout=5).json()["id"]
        requests.post(f"{url}/api/carts/{cart}/items", json={"product_id": 5, "quantity": 2},
                      timeout=5).raise_for_status()
        placed = requests.post(f"{url}/api/carts/{cart}/checkout", json={"card_number": CARD}, timeout=10)
        if placed.status_code == 201:
            return placed.json()
        assert placed.status_code == 402, placed.text
    raise AssertionError("ten checkouts in a row were declined")


def test_orders_survive_a_shop_restart(services, tmp_path):
    env = {"FAULT_TOKEN": TOKEN, "PAYMENTS_URL": services["payments"]}
    shop, url = start_service("shop", str(tmp_path), env)
    try:
        order = place_order(url)
    finally:
        shop.stop()
    shop, url = start_service("shop", str(tmp_path), env)  # same data directory
    try:
        assert requests.get(f"{url}/api/orders/{order['id']}", timeout=5).json() == order
    finally:
        shop.stop()
