"""Compare orders against charges: the pure part of the reconcile job.

A charge and an order belong together when the order's `charge_id` is the
charge's `id`. Only records inside the window [start, end] are judged; `end`
lies a little in the past so a checkout caught between "charged" and "order
stored" is not reported, and records just before `start` are still used as
partners so a pair straddling the start is not reported either.
"""
from dataclasses import dataclass, field

MISMATCH_KINDS = ("charge_without_order", "order_without_charge", "amount_differs")


@dataclass
class Comparison:
    """What one reconcile run found."""
    records_processed: int = 0
    mismatches: dict = field(default_factory=lambda: dict.fromkeys(MISMATCH_KINDS, 0))
    examples: list = field(default_factory=list)

    @property
    def mismatch_count(self):
        """All mismatches, whatever their kind."""
        return sum(self.mismatches.values())

    def record(self, kind, example, max_examples=5):
        """Count one mismatch and keep a few examples for the log."""
        self.mismatches[kind] += 1
        if len(self.examples) < max_examples:
            self.examples.append({"kind": kind, **example})


def compare(orders, charges, start, end):
    """Judge every order and charge created in [start, end]; return a Comparison."""
    result = Comparison()
    orders_by_charge = {order["charge_id"]: order for order in orders}
    charges_by_id = {charge["id"]: charge for charge in charges}
    for charge in charges:
        if not start <= charge["created_at"] <= end:
            continue
        result.records_processed += 1
        order = orders_by_charge.get(charge["id"])
        if order is None:
            # Money taken with no order: the footprint of a silently failing checkout.
            result.record("charge_without_order", {"charge_id": charge["id"], "order_ref": charge["order_ref"],
                                                   "amount_cents": charge["amount_cents"]})
        elif order["total_cents"] != charge["amount_cents"]:
            result.record("amount_differs", {"charge_id": charge["id"], "order_id": order["id"],
                                             "charged_cents": charge["amount_cents"],
                                             "order_cents": order["total_cents"]})
    for order in orders:
        if not start <= order["created_at"] <= end:
            continue
        result.records_processed += 1
        if order["charge_id"] not in charges_by_id:
            result.record("order_without_charge", {"order_id": order["id"], "charge_id": order["charge_id"]})
    return result
