"""Request instrumentation shared by every Flask service.

Each service declares its own metrics (in its `metrics.py`); this module only
wires a service's request histogram and in-progress gauge into Flask, and keeps
label values bounded: the route is the URL *rule* (never the raw path), odd
methods collapse to "other", and unmatched paths share one label value.
"""
import os
import resource
import time

from flask import Flask, Response, g, request
from prometheus_client import Gauge, Histogram

from app.common import exemplars

KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"})
UNMATCHED_ROUTE = "<unmatched>"
MEMORY_SAMPLE_INTERVAL_SECONDS = 1.0
# Request latency buckets for every service: they include the latency SLO threshold
# (0.25 s) and 0.5 s, so SLIs are exact bucket reads, not interpolations.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PAGE_SIZE = resource.getpagesize()
# Paths that are not requests the service serves but the monitoring reading it: the scrape in flight
# would otherwise count itself, a floor of 1 in progress per instance on every utilisation panel.
NOT_IN_PROGRESS_PATHS = frozenset({"/metrics"})


def route_label() -> str:
    """The URL rule that matched this request, or one shared value for none."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def method_label() -> str:
    """The request method if it is a standard one, else "other"."""
    return request.method if request.method in KNOWN_METHODS else "other"


def resident_memory_bytes() -> int:
    """This process's resident set size, read from /proc (process_* metrics vanish in multiprocess mode)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RequestInstrumentation:
    """Times every request into `duration` and tracks `in_progress`, keyed by route template."""

    def __init__(self, duration: Histogram, in_progress: Gauge, resident_memory: Gauge | None = None) -> None:
        self.duration = duration
        self.in_progress = in_progress
        self.resident_memory = resident_memory
        # Any start a second or more before the first request samples on it (monotonic time is the uptime,
        # far past 1.0): 1.0 is an equivalent mutant.
        self._last_memory_sample = 0.0  # pragma: no mutate

    def init_app(self, app: Flask) -> None:
        """Register the hooks on a Flask app."""
        app.before_request(self._before)
        app.after_request(self._after)
        app.teardown_request(self._teardown)

    def _before(self) -> None:
        g.request_started = time.perf_counter()
        if request.path not in NOT_IN_PROGRESS_PATHS:
            self.in_progress.inc()
            g.in_progress_counted = True
        self._sample_memory()

    def _after(self, response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            elapsed = time.perf_counter() - started
            exemplars.observe(self.duration, (route_label(), method_label(), str(response.status_code)), elapsed,
                              exemplars.sampled_trace_id())
        return response

    def _teardown(self, _exc: BaseException | None) -> None:
        # A default of None would be as falsy as False (equivalent).
        if g.pop("in_progress_counted", False):  # pragma: no mutate
            self.in_progress.dec()

    def _sample_memory(self) -> None:
        if self.resident_memory is None:
            return
        now = time.monotonic()
        if now - self._last_memory_sample >= MEMORY_SAMPLE_INTERVAL_SECONDS:
            self._last_memory_sample = now
            self.resident_memory.set(resident_memory_bytes())


def worker_pid() -> int:
    """The current process id (a helper so tests can see which worker answered)."""
    return os.getpid()
