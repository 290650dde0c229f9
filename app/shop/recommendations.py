"""Product recommendations: the shop's own CPU-heavy work, timed as a task.

The similarity scoring is deliberately done the slow, honest way (a little
text comparison per product pair) so there is own time worth measuring.
"""
from difflib import SequenceMatcher

from app.common import tracing
from app.shop.metrics import COMPUTE_DURATION

RECOMMENDATIONS = 3


def _similarity(product, other):
    shared_tags = len(set(product["tags"]) & set(other["tags"]))
    text = SequenceMatcher(None, product["description"], other["description"]).ratio()
    return shared_tags + text


def recommend(product, catalog):
    """The products most similar to `product`."""
    with tracing.span("compute recommendations"), COMPUTE_DURATION.labels("recommendations").time():
        scored = sorted((other for other in catalog if other["id"] != product["id"]),
                        key=lambda other: _similarity(product, other), reverse=True)
        return [{"id": p["id"], "name": p["name"]} for p in scored[:RECOMMENDATIONS]]
