"""Weighted user journeys against the shop, each ending in one outcome from a closed set.

A journey is what one arriving user does: browse, look at a product, fill a
cart, check out, or (rarely) send bad input. Outcomes are labels, so they are
a small fixed set; expected 4xx answers to bad input are `rejected_ok`, not
errors, and a card decline (402) is a business outcome, not an error.

Each journey is one trace, started here where the user starts (issue 16): a
root span `journey <name>` (its outcome an attribute, an error status when the
shop failed the user) and a client span per HTTP call, whose W3C `traceparent`
makes the shop's spans its children. Sampling is decided at that root
(`TRACING_SAMPLE_RATIO`), and nothing is recorded without an endpoint
(app/common/tracing.py).
"""
import collections
import random
import threading
import time
from collections.abc import Callable, Container
from typing import Any

import requests
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.common import tracing

# The closed set of outcomes (a label of loadgen_requests_total).
OUTCOMES = ("ok", "rejected_ok", "declined", "invalid_accepted", "client_error", "server_error",
            "timeout", "connection_error", "dropped")
# Outcomes that mean the shop (or the load generator) failed the user.
ERROR_OUTCOMES = frozenset({"invalid_accepted", "client_error", "server_error", "timeout", "connection_error",
                            "dropped"})
# What bad input may be answered with: a clear client error.
REJECTED_OK_STATUSES = (400, 404, 409, 413, 415, 422)
DEFAULT_MIX = {"browse": 35, "view_product": 35, "add_to_cart": 12, "checkout": 15, "bad_input": 3}
APPROVED_CARD = "4242424242424242"
# Connect fails fast (a refused port is news at once); reads wait long enough to see a stall.
DEFAULT_TIMEOUT = (2.0, 10.0)
PRODUCT_LIST_TTL_SECONDS = 60.0
# Returning customers: half of all checkouts pay for a cart filled in an earlier visit, and a
# checkout that failed on the shop's side is tried again later (a few times). This is also what
# lets checkouts reach the payment step while adding to a cart is broken.
RETURNING_SHARE = 0.5
OPEN_CARTS_KEPT = 100
OPEN_CART_MAX_AGE_SECONDS = 600  # well inside the shop's 30 min before it calls a cart abandoned
CHECKOUT_ATTEMPTS = 3
RETRYABLE_OUTCOMES = ("server_error", "timeout", "connection_error")
# A cart the shop made (its id), when it was filled (time.monotonic()) and how many checkouts failed on it.
OpenCart = tuple[str, float, int]


# The load generator's spans (its own service name in the trace backend).
LOADGEN_TRACING = tracing.Tracing("loadgen")


class JourneyFailed(Exception):
    """A step did not get the answer the journey needs; carries the outcome to record."""

    def __init__(self, outcome: str, detail: str = "") -> None:
        super().__init__(detail or outcome)
        self.outcome = outcome


def classify_status(status: int) -> str:
    """The outcome of an unexpected HTTP status."""
    return "server_error" if status >= 500 else "client_error"


class ShopClient:
    """HTTP steps against the shop, one requests.Session per worker thread."""

    def __init__(self, base_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 rng: random.Random | None = None, tracer: tracing.Tracing | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tracing = tracer or LOADGEN_TRACING
        self.timeout = timeout
        self.rng = rng or random.Random()
        self._local = threading.local()
        self._product_ids: list[int] = []
        self._products_fetched_at = 0.0
        self._lock = threading.Lock()
        self._open_carts: collections.deque[OpenCart] = collections.deque(maxlen=OPEN_CARTS_KEPT)

    def keep_cart(self, cart_id: str, filled_at: float | None = None, attempts: int = 0) -> None:
        """Remember a filled cart a returning customer may check out later (oldest forgotten first)."""
        self._open_carts.append((cart_id, time.monotonic() if filled_at is None else filled_at, attempts))

    def returning_cart(self) -> OpenCart | None:
        """A remembered cart (id, filled at, attempts) young enough to check out, or None."""
        while True:
            try:
                cart = self._open_carts.popleft()
            except IndexError:
                return None
            if time.monotonic() - cart[1] < OPEN_CART_MAX_AGE_SECONDS:
                return cart

    def session(self) -> requests.Session:
        """This thread's session (Sessions are not safe to share between threads)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "instrumented-shop-loadgen/1"
        return session

    def call(self, method: str, path: str, expect: Container[int] = (200,), **kwargs: Any) -> requests.Response:
        """One request; return the response when its status is in `expect`, else raise JourneyFailed."""
        # One span per call, named by method only: paths carry cart and order ids, and span names are indexed.
        with self.tracing.tracer().start_as_current_span(f"{method.lower()} shop", kind=SpanKind.CLIENT,
                                                         attributes={"http.target": path}) as span:
            headers = tracing.inject(dict(kwargs.pop("headers", None) or {}))
            try:
                response = self.session().request(method, self.base_url + path, timeout=self.timeout,
                                                  headers=headers, **kwargs)
            except requests.Timeout as error:
                span.set_status(Status(StatusCode.ERROR, "timeout"))
                raise JourneyFailed("timeout", str(error)) from None
            except requests.ConnectionError as error:
                span.set_status(Status(StatusCode.ERROR, "connection_error"))
                raise JourneyFailed("connection_error", str(error)) from None
            span.set_attribute("http.status_code", response.status_code)
        if response.status_code not in expect:
            raise JourneyFailed(classify_status(response.status_code), f"{method} {path}: {response.status_code}")
        return response

    def product_ids(self) -> list[int]:
        """Known product ids, fetched from the API and refreshed once a minute."""
        with self._lock:
            fresh = time.monotonic() - self._products_fetched_at < PRODUCT_LIST_TTL_SECONDS
            if self._product_ids and fresh:
                return self._product_ids
        ids = [product["id"] for product in self.call("GET", "/api/products").json()["products"]]
        if not ids:
            raise JourneyFailed("server_error", "The shop lists no products.")
        with self._lock:
            self._product_ids, self._products_fetched_at = ids, time.monotonic()
        return ids

    def pick_product(self) -> int:
        """A random product id."""
        return self.rng.choice(self.product_ids())

    def new_cart_with_items(self, items: int = 1) -> str:
        """Create a cart and put `items` random products into it; return the cart id."""
        cart_id = self.call("POST", "/api/carts", expect=(201,), json={}).json()["id"]
        for _ in range(items):
            self.call("POST", f"/api/carts/{cart_id}/items", expect=(200,),
                      json={"product_id": self.pick_product(), "quantity": self.rng.randint(1, 3)})
        return cart_id


def browse(shop: ShopClient) -> str:
    """Look at the catalog: the HTML home page or the JSON list."""
    if shop.rng.random() < 0.5:
        shop.call("GET", "/")
    else:
        shop.call("GET", "/api/products")
    return "ok"


def view_product(shop: ShopClient) -> str:
    """Open one product page (HTML or JSON); the shop asks payments for stock."""
    product = shop.pick_product()
    path = f"/products/{product}" if shop.rng.random() < 0.5 else f"/api/products/{product}"
    shop.call("GET", path)
    return "ok"


def add_to_cart(shop: ShopClient) -> str:
    """Fill a cart and leave; a later checkout may come back for it, or the shop calls it abandoned."""
    shop.keep_cart(shop.new_cart_with_items(shop.rng.randint(1, 2)))
    return "ok"


def checkout(shop: ShopClient) -> str:
    """Pay for a cart filled earlier or just now; a 402 decline is a business outcome, not an error."""
    returning = shop.rng.random() < RETURNING_SHARE and shop.returning_cart()
    cart_id, filled_at, attempts = returning or (shop.new_cart_with_items(shop.rng.randint(1, 2)), None, 0)
    try:
        response = shop.call("POST", f"/api/carts/{cart_id}/checkout", expect=(201, 402),
                             json={"card_number": APPROVED_CARD})
    except JourneyFailed as failure:
        if failure.outcome in RETRYABLE_OUTCOMES and attempts + 1 < CHECKOUT_ATTEMPTS:
            shop.keep_cart(cart_id, filled_at, attempts + 1)  # the customer tries again later
        raise
    return "declined" if response.status_code == 402 else "ok"


def bad_input(shop: ShopClient) -> str:
    """Send one kind of bad input; the shop must answer a clear 4xx (never 2xx, never 5xx)."""
    kind = shop.rng.choice(("bad_json", "unknown_product", "zero_quantity"))
    if kind == "unknown_product":
        request = ("GET", "/api/products/987654321", {})
    else:
        cart_id = shop.call("POST", "/api/carts", expect=(201,), json={}).json()["id"]
        path = f"/api/carts/{cart_id}/items"
        if kind == "bad_json":
            request = ("POST", path, {"data": b"{not json", "headers": {"Content-Type": "application/json"}})
        else:
            request = ("POST", path, {"json": {"product_id": shop.pick_product(), "quantity": 0}})
    method, path, kwargs = request
    status = shop.call(method, path, expect=range(200, 500), **kwargs).status_code
    if status in REJECTED_OK_STATUSES:
        return "rejected_ok"
    return "invalid_accepted" if status < 300 else "client_error"


# Each journey returns its outcome, or raises JourneyFailed with the outcome to record.
JOURNEYS: dict[str, Callable[[ShopClient], str]] = {
    "browse": browse, "view_product": view_product, "add_to_cart": add_to_cart, "checkout": checkout,
    "bad_input": bad_input}


def run_journey(shop: ShopClient, name: str) -> str:
    """Run one journey, the root span of its trace, and return its outcome (never raises for an HTTP failure)."""
    with shop.tracing.tracer().start_as_current_span(f"journey {name}", attributes={"journey": name}) as span:
        try:
            outcome = JOURNEYS[name](shop)
        except JourneyFailed as failure:
            outcome = failure.outcome
        span.set_attribute("outcome", outcome)
        if outcome in ERROR_OUTCOMES:
            span.set_status(Status(StatusCode.ERROR, outcome))
        return outcome


def parse_mix(text: str) -> dict[str, float]:
    """Parse 'browse=35,checkout=15' into weights; unknown journeys are an error."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in JOURNEYS:
            raise ValueError(f"Unknown journey {name!r} in the mix; journeys are: {', '.join(JOURNEYS)}.")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ValueError(f"The weight of {name} must be a number, not {weight!r}.") from None
        if mix[name] < 0:
            raise ValueError(f"The weight of {name} must not be negative.")
    if not mix or sum(mix.values()) <= 0:
        raise ValueError("The journey mix needs at least one journey with a positive weight.")
    return mix
