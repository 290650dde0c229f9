"""End to end on the native stack: payments fails every call, ShopPaymentsErrorRatioHigh
reaches the alert inbox as firing; the fault is cleared, the resolved notification arrives.
(Restarts while an alert fires: tests/test_restarts.py.)

Real shop, payments, Prometheus (the same rule files, 1 s scrape and evaluation),
Alertmanager (the same config, short grouping timers) and inbox. The test drives
its own checkouts (besides the load generator's baseline) so the error ratio
does not depend on loadgen's mix, and prints both measured delays.
"""
import time

import requests

from processes.waiting import poll_until

ALERT = "ShopPaymentsErrorRatioHigh"
CARD = "4242424242424242"
# The rule needs 30 s of a bad 1m ratio to fire and ~55 s of good calls to clear; leave room on a busy box.
FIRE_TIMEOUT_SECONDS = 150
RESOLVE_TIMEOUT_SECONDS = 180
TIMEOUT = 10


def checkout(shop):
    """One customer journey through the JSON API: create a cart, add an item (a stock quote at payments),
    check out (a charge at payments). Returns the status of the first step that failed, or of the checkout."""
    cart = requests.post(f"{shop}/api/carts", timeout=TIMEOUT).json()["id"]
    added = requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, timeout=TIMEOUT)
    if not added.ok:
        return added.status_code
    return requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, timeout=TIMEOUT).status_code


def inbox_alerts(inbox, status, since):
    """The inbox's alerts named ALERT with a status, received after `since` (unix seconds)."""
    answer = requests.get(f"{inbox}/api/alerts", params={"alertname": ALERT, "status": status, "since": since},
                          timeout=TIMEOUT)
    answer.raise_for_status()
    return answer.json()["alerts"]


def prometheus_alert_active(prometheus):
    """True while Prometheus has ALERT pending or firing."""
    listed = requests.get(f"{prometheus}/api/v1/alerts", timeout=TIMEOUT).json()["data"]["alerts"]
    return any(alert["labels"]["alertname"] == ALERT for alert in listed)


def driving(shop, check):
    """A poll check that first runs one checkout journey (bounded by the poll's deadline)."""
    def step():
        checkout(shop)
        return check()
    return step


def test_payments_errors_alert_reaches_the_inbox_then_resolves(native_stack):
    """Every call fails -> the alert fires in the inbox; the fault is cleared -> it resolves there, once fired."""
    shop, payments, inbox = native_stack.url("shop"), native_stack.url("payments"), native_stack.url("inbox")
    admin = {"Authorization": f"Bearer {native_stack.fault_token}"}
    # An earlier test may have left the alert active; a new firing notification needs a fresh start.
    poll_until(lambda: not prometheus_alert_active(native_stack.url("prometheus")),
               f"{ALERT} to be inactive before the test starts", RESOLVE_TIMEOUT_SECONDS)
    assert checkout(shop) in (201, 402), "A checkout must be answered (placed or declined) while payments is healthy."

    fault_on = time.time()
    requests.put(f"{payments}/admin/faults/errors", json={"ratio": 1.0, "duration_seconds": 300},
                 headers=admin, timeout=TIMEOUT).raise_for_status()
    try:
        assert checkout(shop) in (502, 503, 504), "The journey must fail while payments fails every call."
        firing = poll_until(driving(shop, lambda: inbox_alerts(inbox, "firing", fault_on)),
                            f"{ALERT} to reach the inbox as firing", FIRE_TIMEOUT_SECONDS, interval=0.5)
        fired_after = firing[-1]["received_at"] - fault_on
    finally:
        requests.delete(f"{payments}/admin/faults/errors", headers=admin, timeout=TIMEOUT).raise_for_status()
    fault_off = time.time()

    alert = firing[-1]
    assert alert["labels"]["severity"] == "warning" and alert["labels"]["peer"] == "payments", alert["labels"]
    assert "server_error" in alert["annotations"]["description"], alert["annotations"]
    assert alert["annotations"]["runbook_url"].endswith("#shoppaymentserrorratiohigh")

    resolved = poll_until(driving(shop, lambda: inbox_alerts(inbox, "resolved", fault_off)),
                          f"{ALERT} to reach the inbox as resolved", RESOLVE_TIMEOUT_SECONDS, interval=0.5)
    resolved_after = resolved[-1]["received_at"] - fault_off
    assert resolved[-1]["fingerprint"] == alert["fingerprint"], "The resolved alert must be the one that fired."
    assert len(inbox_alerts(inbox, "firing", fault_on)) == 1, "One fault must give one firing notification."
    print(f"\n{ALERT}: firing in the inbox {fired_after:.1f} s after the fault, "
          f"resolved {resolved_after:.1f} s after it was cleared.")
