"""The payments service's fault knobs, and the hooks where they act.

What a scenario can break in our dependency, each knob acting at one marked
site: `apply_faults` (before every request: refuse, hang, latency, errors),
`trickle_slow_responses` (after every request: slow_responses) and the export
route `api.export_charges` (export_errors). The factory registers both hooks;
ops routes (`FAULT_FREE_PREFIXES`) are never touched, so a fault cannot hide
itself or lock out the admin API that ends it.
"""
import math
import random
import socket
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, request

from app.common import tracing
from app.common.errors import ApiError
from app.common.faults import FaultStore, Knob, Param, fault_store

LATENCY = Knob("latency", "Adds latency to every answer, drawn from a log-normal distribution.",
               {"median_seconds": Param(float, 0.8, 0.001, 20.0), "sigma": Param(float, 0.5, 0.0, 2.0)})
ERRORS = Knob("errors", "Answers 503 to a share of requests.", {"ratio": Param(float, 1.0, 0.0, 1.0)})
HANG = Knob("hang", "Holds every request without answering until the fault ends or the caller gives up.",
            {"max_seconds": Param(float, 20.0, 0.1, 25.0)})
REFUSE = Knob("refuse", "Drops every connection without an answer (looks like the service is down).")
SLOW_RESPONSES = Knob("slow_responses", "Trickles each answer out over this many seconds.",
                      {"seconds": Param(float, 5.0, 0.1, 25.0)})
EXPORT_ERRORS = Knob("export_errors", "The charges export used by the reconcile job fails with 500.")

KNOBS = (LATENCY, ERRORS, HANG, REFUSE, SLOW_RESPONSES, EXPORT_ERRORS)
HANG_POLL_SECONDS = 0.2
FAULT_FREE_PREFIXES = ("/metrics", "/healthz", "/admin", "/openapi.json")


def added_latency(params: dict[str, Any]) -> float:
    """Seconds of extra latency for one request: log-normal around the median, capped at 20 s."""
    return min(20.0, params["median_seconds"] * math.exp(random.gauss(0.0, params["sigma"])))


def hang(store: FaultStore, params: dict[str, Any]) -> None:
    """Block until the hang fault is switched off, expires, or max_seconds pass."""
    deadline = time.monotonic() + params["max_seconds"]
    while time.monotonic() < deadline and store.params(HANG.name) is not None:
        time.sleep(HANG_POLL_SECONDS)


def apply_faults() -> None:
    """Before every request (but ops routes): refuse, hang, add latency or fail, as the knobs say."""
    if request.path.startswith(FAULT_FREE_PREFIXES):
        return None
    store = fault_store()
    if store.params(REFUSE.name) is not None:
        # Drop the connection without a word: the client sees a connection error.
        tracing.add_event("fault refuse", {"fault": "refuse"})
        sock = request.environ.get("gunicorn.socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        raise ApiError(503, "refused", "The payment service is refusing connections.")
    params = store.params(HANG.name)
    if params is not None:
        tracing.add_event("fault hang", {"fault": "hang", "max_seconds": params["max_seconds"]})
        hang(store, params)
    latency = store.params(LATENCY.name)
    if latency is not None:
        seconds = added_latency(latency)
        tracing.add_event("fault latency", {"fault": "latency", "seconds": seconds})
        time.sleep(seconds)
    errors = store.params(ERRORS.name)
    if errors is not None and random.random() < errors["ratio"]:
        tracing.add_event("fault errors", {"fault": "errors"})
        raise ApiError(503, "unavailable", "The payment service failed this request on purpose (fault: errors).")
    return None


def trickle_slow_responses(response: Response) -> Response:
    """After every request (but ops routes), while slow_responses is on: send the answer byte by byte."""
    slow = fault_store().params(SLOW_RESPONSES.name)
    if slow is None or request.path.startswith(FAULT_FREE_PREFIXES) or response.is_streamed:
        return response
    body = response.get_data()
    pause = slow["seconds"] / max(1, len(body))
    tracing.add_event("fault slow_responses", {"fault": "slow_responses", "seconds": slow["seconds"]})

    def trickle() -> Iterator[bytes]:
        for byte in body:
            time.sleep(pause)
            yield bytes([byte])
    streamed = Response(trickle(), status=response.status_code, content_type=response.content_type)
    streamed.headers["X-Request-ID"] = response.headers.get("X-Request-ID", "")
    return streamed
