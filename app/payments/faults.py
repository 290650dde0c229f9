"""The payments service's fault knobs: what a scenario can break in our dependency."""
import math
import random
import time

from app.common.faults import Knob, Param

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


def added_latency(params):
    """Seconds of extra latency for one request: log-normal around the median, capped at 20 s."""
    return min(20.0, params["median_seconds"] * math.exp(random.gauss(0.0, params["sigma"])))


def hang(store, params):
    """Block until the hang fault is switched off, expires, or max_seconds pass."""
    deadline = time.monotonic() + params["max_seconds"]
    while time.monotonic() < deadline and store.params(HANG.name) is not None:
        time.sleep(HANG_POLL_SECONDS)
