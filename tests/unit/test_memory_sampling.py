"""How often the memory gauge is sampled (app/common/http_metrics.py): on a service's first request, then at
most once a second, so a busy worker does not read /proc on every request.
"""
import itertools
import uuid

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry, Gauge, Histogram

from app.common.http_metrics import MEMORY_SAMPLE_INTERVAL_SECONDS, RequestInstrumentation

_names = itertools.count()


@pytest.fixture
def service():
    """A tiny Flask app instrumented with its own metrics (fresh names: metric files are per process)."""
    n = next(_names)
    registry = CollectorRegistry()
    memory = Gauge(f"t_sampling_memory_bytes_{n}", "Resident memory.", registry=registry,
                   multiprocess_mode="liveall")
    RequestInstrumentation(Histogram(f"t_sampling_seconds_{n}", "Requests.", ["route", "method", "code"],
                                     registry=registry),
                           Gauge(f"t_sampling_in_progress_{n}", "In progress.", registry=registry,
                                 multiprocess_mode="livesum"),
                           memory).init_app(app := Flask(f"sampling_{n}"))
    app.add_url_rule("/", "index", lambda: "ok")
    return app.test_client(), memory, lambda: registry.get_sample_value(f"t_sampling_memory_bytes_{n}")


def test_the_first_request_samples_memory_and_the_next_within_a_second_does_not(service, monkeypatch):
    client, memory, gauge = service
    now = [5000.0]
    monkeypatch.setattr("app.common.http_metrics.time.monotonic", lambda: now[0])
    client.get("/")
    assert gauge() > 10 * 1024 * 1024, "the first request did not sample the resident memory"
    memory.set(0)
    now[0] += MEMORY_SAMPLE_INTERVAL_SECONDS - 0.001
    client.get("/")
    assert gauge() == 0, "memory was sampled again within a second"
    now[0] = 5000.0 + MEMORY_SAMPLE_INTERVAL_SECONDS
    client.get("/")
    assert gauge() > 10 * 1024 * 1024, "memory was not sampled again once a second had passed"


def test_a_service_without_a_memory_gauge_serves_requests():
    # A fresh name each run: in multiprocess mode same-named series of one process share a value file, so a
    # second run of this test in one process (mutmut runs the suite twice) would start from the first's count.
    name = f"t_nomem_{uuid.uuid4().hex[:8]}"
    app = Flask("sampling_without_memory")
    registry = CollectorRegistry()
    RequestInstrumentation(Histogram(f"{name}_seconds", "Requests.", ["route", "method", "code"], registry=registry),
                           Gauge(f"{name}_in_progress", "In progress.", registry=registry,
                                 multiprocess_mode="livesum")).init_app(app)
    app.add_url_rule("/", "index", lambda: "ok")
    assert app.test_client().get("/").status_code == 200
    labels = {"route": "/", "method": "GET", "code": "200"}
    assert registry.get_sample_value(f"{name}_seconds_count", labels) == 1
