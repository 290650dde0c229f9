"""Every metric the fake payments service exposes, declared in one place."""
from flask import Flask
from prometheus_client import Counter, Gauge, Histogram

from app.common.faults import fault_store
from app.common.http_metrics import LATENCY_BUCKETS
from app.payments.faults import KNOBS

REQUEST_DURATION = Histogram(
    "payments_http_request_duration_seconds",
    "Time spent serving an HTTP request, by route template, method and status code.",
    ["route", "method", "code"], buckets=LATENCY_BUCKETS)
REQUESTS_IN_PROGRESS = Gauge(
    "payments_http_requests_in_progress", "HTTP requests being served right now.", multiprocess_mode="livesum")
REQUEST_CAPACITY = Gauge(
    "payments_http_request_capacity", "Most HTTP requests the server executes at once: its gunicorn worker processes.",
    multiprocess_mode="livemax")
CHARGES = Counter("payments_charges_total", "Card charges decided, by result (approved, declined).", ["result"])
CHARGED_AMOUNT = Counter("payments_charged_dollars_total", "Money taken by approved charges.")
BUILD_INFO = Gauge("payments_build_info", "Always 1 for the version being served.", ["version"],
                   multiprocess_mode="livemostrecent")
RESIDENT_MEMORY = Gauge("payments_process_resident_memory_bytes", "Resident memory of each worker process.",
                        multiprocess_mode="liveall")
FAULT_ACTIVE = Gauge("payments_fault_active", "1 while a fault knob is switched on, else 0.", ["fault"],
                     multiprocess_mode="livemostrecent")


def initialise() -> None:
    """Create series that must exist before their first event."""
    for result in ("approved", "declined"):
        CHARGES.labels(result)


def refresh_at_scrape(app: Flask) -> None:
    """Update the gauges that describe shared state, in the worker answering the scrape."""
    active = fault_store(app).active()
    for knob in KNOBS:
        FAULT_ACTIVE.labels(knob.name).set(1 if knob.name in active else 0)
    BUILD_INFO.labels(app.config["VERSION"]).set(1)
