"""Restarts mid-alert lose nothing and duplicate nothing: Alertmanager, Prometheus and the inbox.

A real alert (ShopTargetDown for payments, from prometheus/rules) fires and
reaches the inbox. Then, while it is still firing:

* Alertmanager restarts (it forgets its alerts, keeps its notification log
  in its data directory) and Prometheus restarts (it restores the alert's
  state from its TSDB and sends it again at once). Alertmanager must not
  notify again before the repeat interval: the notification log says the
  group was already notified about exactly this alert.
* The inbox stops; payments comes back, so the alert resolves while nobody
  receives webhooks. Alertmanager's delivery fails, the inbox starts again,
  and the retried resolved notification must arrive, once.

Finally the inbox holds, for that alert, exactly one firing and one resolved
entry, and every notification it had before its restart is still there.
"""
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from launcher.stack import Stack
from processes.waiting import poll_until

ALERT = "ShopTargetDown"
FIRE_TIMEOUT = 75      # `for: 30s` plus scrape, evaluation and group_wait, with room for a busy machine


@pytest.fixture
def stack(tmp_path):
    """payments, inbox, Alertmanager and Prometheus, fast mode, no load generator."""
    with Stack(str(tmp_path / "stack"), services=["payments", "inbox", "alertmanager", "prometheus"],
               fast=True, loadgen_rate=0) as running:
        yield running


def inbox_entries(stack):
    """The inbox's entries for the payments ShopTargetDown alert, oldest first."""
    alerts = requests.get(stack.url("inbox") + "/api/alerts", params={"alertname": ALERT, "limit": 1000},
                          timeout=5).json()["alerts"]
    return sorted((a for a in alerts if a["labels"].get("job") == "payments"), key=lambda a: a["id"])


def inbox_notifications(stack):
    """Every notification the inbox holds, oldest first."""
    body = requests.get(stack.url("inbox") + "/api/notifications", params={"limit": 1000}, timeout=5).json()
    return sorted(body["notifications"], key=lambda n: n["id"])


def counter(stack, component, name):
    """The sum of a component's metric over its label sets (0 while it has no sample)."""
    text = requests.get(stack.url(component) + "/metrics", timeout=5).text
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name)


def alertmanager_counter(stack, name):
    """The sum of an Alertmanager metric over its label sets (0 while it has no sample)."""
    return counter(stack, "alertmanager", name)


def alertmanager_has_alert(stack):
    """True once Alertmanager holds the payments ShopTargetDown alert as active."""
    alerts = requests.get(stack.url("alertmanager") + "/api/v2/alerts", params={"active": "true"}, timeout=5).json()
    return any(a["labels"].get("alertname") == ALERT and a["labels"].get("job") == "payments" for a in alerts)


def test_restarts_mid_alert_lose_and_duplicate_no_notification(stack):
    stack.processes.pop("payments").stop()
    poll_until(lambda: [e for e in inbox_entries(stack) if e["status"] == "firing"],
               f"the inbox to receive {ALERT} for the stopped payments service", FIRE_TIMEOUT)
    # Alertmanager's own count would include the Watchdog's heartbeats (every 30 s, to /heartbeat):
    # count the notifications the inbox stored instead.
    notified = counter(stack, "inbox", "inbox_notifications_received_total")

    # Alertmanager, then Prometheus, restart while the alert fires.
    stack.restart("alertmanager")
    stack.restart("prometheus")
    poll_until(lambda: alertmanager_has_alert(stack),
               "the restarted Prometheus to restore the alert and send it to the restarted Alertmanager", 60)
    # Every flush of a group asks the notification log once; twice as many queries as groups
    # means the alert's group was judged (and found already notified) about twice.
    poll_until(lambda: alertmanager_counter(stack, "alertmanager_nflog_queries_total") >= 2 * max(
        1, alertmanager_counter(stack, "alertmanager_dispatcher_aggregation_groups")),
        "Alertmanager to flush the restored alert's group twice", 30)
    assert counter(stack, "inbox", "inbox_notifications_received_total") == notified, \
        "Alertmanager notified again after its restart, before the repeat interval"
    history = inbox_notifications(stack)
    assert [e["status"] for e in inbox_entries(stack)] == ["firing"]

    # The alert resolves while the inbox is down; the failed delivery is retried once it is back.
    stack.processes.pop("inbox").stop()
    stack.start_component("payments")
    poll_until(lambda: alertmanager_counter(stack, "alertmanager_notification_requests_failed_total") >= 1,
               "Alertmanager to fail delivering the resolved notification to the stopped inbox", 60)
    stack.start_component("inbox")
    poll_until(lambda: [e for e in inbox_entries(stack) if e["status"] == "resolved"],
               "the retried resolved notification to reach the restarted inbox", 60)

    assert [e["status"] for e in inbox_entries(stack)] == ["firing", "resolved"]
    after = inbox_notifications(stack)
    assert after[:len(history)] == history, "the inbox lost or changed notifications across its restart"
    assert len({e["fingerprint"] for e in inbox_entries(stack)}) == 1
