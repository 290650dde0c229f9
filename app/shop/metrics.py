"""Every metric the shop exposes, declared in one place.

Names follow `shop_<what>_<unit>` with base units (`_seconds`, `_bytes`,
`_dollars`) and `_total` for counters. Labels let you drill down; every label
value comes from a closed set (route templates, named queries, outcomes), never
from user input. Gauges say how gunicorn's workers combine them
(`multiprocess_mode`).
"""
from flask import Flask
from prometheus_client import Counter, Gauge, Histogram

from app.common.faults import fault_store
from app.common.http_metrics import LATENCY_BUCKETS
from app.common.scrape_time import ScrapeTimeInfo

ORDER_VALUE_BUCKETS = (10, 25, 50, 100, 250, 500, 1000, 2500)

# Integration point: requests to us.
REQUEST_DURATION = Histogram(
    "shop_http_request_duration_seconds",
    "Time spent serving an HTTP request, by route template, method and status code.",
    ["route", "method", "code"], buckets=LATENCY_BUCKETS)
REQUESTS_IN_PROGRESS = Gauge(
    "shop_http_requests_in_progress", "HTTP requests being served right now.",
    multiprocess_mode="livesum")
REQUEST_CAPACITY = Gauge(
    "shop_http_request_capacity",
    "Most HTTP requests the server executes at once: its gunicorn worker processes (each runs one "
    "thread's Python at a time; its other threads wait, e.g. on payments).",
    multiprocess_mode="livemax")

# Integration point: our calls to dependencies.
DEPENDENCY_DURATION = Histogram(
    "shop_dependency_request_duration_seconds",
    "Time spent on a call to a dependency, by peer, operation and outcome.",
    ["peer", "operation", "outcome"], buckets=LATENCY_BUCKETS)
DEPENDENCY_IN_PROGRESS = Gauge(
    "shop_dependency_requests_in_progress", "Calls to a dependency waiting for an answer right now.",
    ["peer", "operation"], multiprocess_mode="livesum")
DB_QUERY_DURATION = Histogram(
    "shop_db_query_duration_seconds", "Time spent on a database query, by named operation.",
    ["operation"], buckets=LATENCY_BUCKETS)

# Where the app spends its own time.
COMPUTE_DURATION = Histogram(
    "shop_compute_duration_seconds", "Time spent on the shop's own CPU-heavy work, by task.",
    ["task"], buckets=LATENCY_BUCKETS)

# Key business data.
ORDERS = Counter("shop_orders_total", "Orders committed to the database.")
ORDER_VALUE = Histogram(
    "shop_order_value_dollars", "Value of each committed order; the sum is revenue.",
    buckets=ORDER_VALUE_BUCKETS)
CHECKOUTS = Counter(
    "shop_checkouts_total",
    "Checkouts by the outcome shown to the customer (placed, declined, rejected, payment_failed, error).",
    ["outcome"])
PAYMENT_DECLINES = Counter(
    "shop_payment_declines_total", "Card payments the payment provider declined, by reason.", ["reason"])
CARTS_CREATED = Counter("shop_carts_created_total", "Shopping carts created.")
CART_ITEMS_ADDED = Counter("shop_cart_items_added_total", "Items added to shopping carts.")
CARTS_ABANDONED = Counter(
    "shop_carts_abandoned_total", "Carts left without checkout for longer than the abandonment timeout.")
PRODUCT_VIEWS = Counter("shop_product_views_total", "Product pages viewed (HTML or API).")

# Version, process and fault state.
# Rendered at each scrape, not a multiprocess gauge: only the version being served, at 1 (scrape_time.py).
BUILD_INFO = ScrapeTimeInfo(
    "shop_build_info", "Always 1, for the version being served only; compare series across versions.",
    ["version"])
RESIDENT_MEMORY = Gauge(
    "shop_process_resident_memory_bytes", "Resident memory of each worker process.",
    multiprocess_mode="liveall")
FAULT_ACTIVE = Gauge(
    "shop_fault_active", "1 while a fault knob is switched on, else 0.", ["fault"],
    multiprocess_mode="livemostrecent")

CHECKOUT_OUTCOMES = ("placed", "declined", "rejected", "payment_failed", "error")
DECLINE_REASONS = ("insufficient_funds", "card_expired", "suspected_fraud", "other")
DEPENDENCY_OUTCOMES = ("ok", "timeout", "connection_error", "server_error", "client_error")
# "catalog" is only observed while the slow_code fault is on; it exists at 0 so a panel shows the jump.
COMPUTE_TASKS = ("recommendations", "catalog")


def initialise() -> None:
    """Create the series that must exist before their first event, so rates start at 0, not 'no data'."""
    for outcome in CHECKOUT_OUTCOMES:
        CHECKOUTS.labels(outcome)
    for reason in DECLINE_REASONS:
        PAYMENT_DECLINES.labels(reason)
    for task in COMPUTE_TASKS:
        COMPUTE_DURATION.labels(task)
    for operation in ("charge", "quote"):
        DEPENDENCY_IN_PROGRESS.labels("payments", operation)
        for outcome in DEPENDENCY_OUTCOMES:
            DEPENDENCY_DURATION.labels("payments", operation, outcome)


def refresh_at_scrape(app: Flask) -> None:
    """Update the gauges that describe shared state (the faults) in the scraping worker."""
    active = fault_store(app).active()
    # A local import: importing app.shop.faults imports the app.shop package, and this file must
    # load without it (bench/variants.py loads it alone to build the no-op metrics variant).
    from app.shop.faults import KNOBS
    for knob in KNOBS:
        FAULT_ACTIVE.labels(knob.name).set(1 if knob.name in active else 0)


def render_at_scrape(app: Flask) -> bytes:
    """What the scraping worker adds to /metrics: the version it serves now (a bad deploy changes it)."""
    from app.shop.faults import served_version  # local for the same reason as in refresh_at_scrape
    return BUILD_INFO.exposition(served_version(app))
