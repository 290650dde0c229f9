"""Product recommendations: the shop's own CPU-heavy work, timed as a task.

The similarity scoring is deliberately done the slow, honest way (a little
text comparison per product pair) so there is own time worth measuring; the
`slow_code` fault makes it much slower, which is how "our code got slow" looks
on the dashboards next to a healthy dependency.
"""
import time
from difflib import SequenceMatcher

from flask import current_app

from app.shop import faults
from app.shop.metrics import COMPUTE_DURATION

RECOMMENDATIONS = 3


def _similarity(product, other):
    shared_tags = len(set(product["tags"]) & set(other["tags"]))
    text = SequenceMatcher(None, product["description"], other["description"]).ratio()
    return shared_tags + text


def _burn_cpu(seconds):
    """Busy work for the slow_code fault (CPU, not sleep, so it also costs capacity)."""
    deadline = time.perf_counter() + seconds
    total = 0
    while time.perf_counter() < deadline:
        total += sum(i * i for i in range(500))
    return total


def recommend(product, catalog):
    """The products most similar to `product`."""
    with COMPUTE_DURATION.labels("recommendations").time():
        slow = current_app.fault_store.params(faults.SLOW_CODE.name)
        if slow:
            _burn_cpu(slow["extra_seconds"])
        scored = sorted((other for other in catalog if other["id"] != product["id"]),
                        key=lambda other: _similarity(product, other), reverse=True)
        return [{"id": p["id"], "name": p["name"]} for p in scored[:RECOMMENDATIONS]]
