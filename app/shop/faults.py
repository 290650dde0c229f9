"""The shop's fault knobs: what a scenario can break in our own code.

Each knob is checked at one marked site: `apply_faults` below (memory_leak,
route_errors, bad_deploy), `store._catalog_code` (slow_code) and
`store._checkout` (checkout_silent_failure); search for `faults.`.
"""
import mmap
import random
import threading
import time

from flask import Flask, current_app, g, request

from app.common import tracing
from app.common.faults import Knob, Param, fault_store
from app.common.http_metrics import route_label

SLOW_CODE = Knob("slow_code", "Adds CPU-heavy work to every request that reads the catalog (our own code gets slow).",
                 {"extra_seconds": Param(float, 0.3, 0.01, 5.0)})
CHECKOUT_SILENT_FAILURE = Knob(
    "checkout_silent_failure",
    "Checkout charges the card and says the order was placed, but never stores the order.")
MEMORY_LEAK = Knob("memory_leak", "Every request keeps a block of memory alive until the fault ends "
                   "(at most MEMORY_LEAK_CAP_BYTES per worker).",
                   {"bytes_per_request": Param(int, 2 * 1024 * 1024, 1024, 64 * 1024 * 1024)})
# The most one worker leaks in total: enough for ShopMemoryGrowth (256 KiB/s for 2 min is 30 MiB)
# several times over, far from what would get a worker or the machine killed.
MEMORY_LEAK_CAP_BYTES = 256 * 1024 * 1024
ROUTE_ERRORS = Knob("route_errors", "One route answers 500 for a share of its requests.",
                    {"route": Param(str, "/api/products/<int:product_id>"),
                     "ratio": Param(float, 1.0, 0.0, 1.0)})
BAD_DEPLOY = Knob("bad_deploy", "Serves a new version that fails a share of all requests.",
                  {"version": Param(str, "2.0.0-rc1"), "error_ratio": Param(float, 0.3, 0.0, 1.0)})

KNOBS = (SLOW_CODE, CHECKOUT_SILENT_FAILURE, MEMORY_LEAK, ROUTE_ERRORS, BAD_DEPLOY)

# Ops and admin routes never get injected errors: a fault must not hide itself.
FAULT_FREE_PREFIXES = ("/metrics", "/healthz", "/admin", "/static")

# Anonymous memory maps, not Python objects: unmapping gives the memory back to the system at once,
# where freed heap memory can stay in the process (and in its resident size) after the fault ends.
_leaked_blocks: list[mmap.mmap] = []
_leaked_lock = threading.Lock()  # requests run in threads: the cap must hold across them


def apply_faults() -> None:
    """Before every request: leak memory (but on ops routes), and fail the request if a fault says so.

    The leak is let go on any request, ops routes too, so the scrapes free it soon after the fault ends.
    """
    ops_route = request.path.startswith(FAULT_FREE_PREFIXES)
    leak_memory(current_app, leak=not ops_route)
    if ops_route:
        return
    if injected_error(current_app, route_label()):
        tracing.add_event("fault injected_error", {"fault": "bad_deploy or route_errors"})
        raise RuntimeError("Injected fault: this request fails on purpose (bad_deploy or route_errors).")


def served_version(app: Flask) -> str:
    """The version this instance claims to run (a bad deploy changes it)."""
    params = fault_store(app).params(BAD_DEPLOY.name)
    return params["version"] if params else app.config["VERSION"]


def injected_error(app: Flask, route: str) -> bool:
    """True when a fault says this request should fail (bad deploy or route errors)."""
    store = fault_store(app)
    bad_deploy = store.params(BAD_DEPLOY.name)
    if bad_deploy and random.random() < bad_deploy["error_ratio"]:
        return True
    route_errors = store.params(ROUTE_ERRORS.name)
    return bool(route_errors and route_errors["route"] == route and random.random() < route_errors["ratio"])


def slow_code_seconds(app: Flask | None = None) -> float:
    """Seconds of extra CPU work this request owes the slow_code fault (0 when off or already paid); `app` is the
    request's app unless given.

    Charged once per request, however often the request reads the catalog, so a
    product page (which reads it twice) is as slow as the product list.
    """
    params = fault_store(app).params(SLOW_CODE.name)
    if not params or g.get("slow_code_paid"):
        return 0.0
    g.slow_code_paid = True
    return params["extra_seconds"]


def burn_cpu(seconds: float) -> int:
    """Busy work (CPU, not sleep, so a slow-code fault also costs capacity, as real slow code does)."""
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        total += sum(i * i for i in range(500))
    return total


def leaked_bytes() -> int:
    """How much memory this worker holds for the leak fault."""
    with _leaked_lock:
        return sum(len(block) for block in _leaked_blocks)


def leak_memory(app: Flask, leak: bool = True) -> None:
    """While the leak fault is on, keep a block per request (up to the cap); when it ends, let all go."""
    params = fault_store(app).params(MEMORY_LEAK.name)
    with _leaked_lock:
        if params is None:
            for block in _leaked_blocks:
                block.close()  # unmapped: resident memory drops now
            _leaked_blocks.clear()
            return
        if not leak:
            return
        size = min(params["bytes_per_request"], MEMORY_LEAK_CAP_BYTES - sum(len(b) for b in _leaked_blocks))
        if size > 0:
            tracing.add_event("fault memory_leak", {"fault": "memory_leak", "bytes": size})
            block = mmap.mmap(-1, size)
            for offset in range(0, size, mmap.PAGESIZE):  # touch every page: resident, not just reserved
                block[offset] = 1
            _leaked_blocks.append(block)
