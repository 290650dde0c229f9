"""Money under concurrency: real gunicorn (4 workers each) for shop and payments, many requests at once.

One cart checked out by N requests at once must give one order, one charge
and no 5xx; N charges with one idempotency key at once must give one charge id.
"""
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.helpers.servers import shop_and_payments

TOKEN = "concurrency-token"
CARD = "4242424242424242"
PARALLEL = 8
WORKERS = 4


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """payments and shop under gunicorn, several workers each, no random declines."""
    with shop_and_payments(str(tmp_path_factory.mktemp("concurrency")), TOKEN, workers=WORKERS,
                           payments_env={"PAYMENTS_DECLINE_RATIO": "0"}) as services:
        yield services


def all_at_once(count, send):
    """Call send() from `count` threads released together; return the results in thread order."""
    barrier = threading.Barrier(count)

    def one(_):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return send(session)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def shop_orders(shop_url):
    """Every order the shop holds, following its pages."""
    orders, after_id = [], 0
    while after_id is not None:
        page = requests.get(shop_url + "/api/orders", params={"since": 0, "after_id": after_id}, timeout=10).json()
        orders += page["orders"]
        after_id = page["next_after_id"]
    return orders


def test_parallel_checkouts_of_one_cart_make_one_order_and_one_charge(services):
    shop = services["shop"]
    carts = []
    for round_number in range(10):
        cart_id = requests.post(shop + "/api/carts", timeout=10).json()["id"]
        added = requests.post(f"{shop}/api/carts/{cart_id}/items", json={"product_id": 1 + round_number % 12,
                                                                          "quantity": 2}, timeout=10)
        assert added.status_code == 200, added.text
        responses = all_at_once(PARALLEL, lambda session, cart_id=cart_id: session.post(
            f"{shop}/api/carts/{cart_id}/checkout", json={"card_number": CARD}, timeout=30))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [409] * (PARALLEL - 1), [(r.status_code, r.text) for r in responses]
        assert {r.json()["error"] for r in responses if r.status_code == 409} == {"cart_closed"}
        carts.append((cart_id, next(r.json() for r in responses if r.status_code == 201)))
    charges = requests.get(services["payments"] + "/charges?since=0", timeout=10).json()["charges"]
    orders = shop_orders(shop)
    for cart_id, order in carts:
        cart_charges = [c for c in charges if c["order_ref"] == f"cart-{cart_id}"]
        assert [(c["id"], c["amount_cents"]) for c in cart_charges] == [(order["charge_id"], order["total_cents"])]
        assert [o["id"] for o in orders if o["cart_id"] == cart_id] == [order["id"]]


def test_simultaneous_charges_with_one_key_get_one_charge_id(services):
    payments = services["payments"]
    keys = []
    for _ in range(40):
        key = f"race-{uuid.uuid4().hex}"
        body = {"order_ref": key, "amount_cents": 1234, "card_number": CARD}
        answers = all_at_once(PARALLEL, lambda session, key=key, body=body: session.post(
            payments + "/charges", json=body, headers={"Idempotency-Key": key}, timeout=30))
        assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
        charge_ids = {answer.json()["charge_id"] for answer in answers}
        assert len(charge_ids) == 1, f"{len(charge_ids)} different charges for one key: {sorted(charge_ids)}"
        keys.append(key)
    charges = requests.get(payments + "/charges?since=0", timeout=10).json()["charges"]
    stored = [charge["order_ref"] for charge in charges if charge["order_ref"] in set(keys)]
    assert sorted(stored) == sorted(keys)  # exactly one stored charge per key
