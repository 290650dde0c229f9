"""Inhibition in a real Alertmanager running our configuration: a page silences
its own ticket, a shop target down silences the symptoms of that instance, no healthy shop at all silences
the per-instance target pages of the shop, nothing else."""
from datetime import UTC, datetime, timedelta

import pytest
import requests

from launcher import binaries
from launcher import config as native_config
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.paths import REPO

CONFIG = REPO / "alertmanager" / "alertmanager.yml"

PAGE = {"alertname": "ShopCheckoutBudgetBurn", "severity": "critical", "slo": "checkout", "profile": "demo",
        "window": "4m", "job": "shop"}
TICKET_SAME_SLO = {**PAGE, "severity": "warning", "window": "96m"}
TICKET_OTHER_SLO = {**TICKET_SAME_SLO, "alertname": "ShopLatencyBudgetBurn", "slo": "latency"}
SHOP_DOWN = {"alertname": "ShopTargetDown", "severity": "critical", "job": "shop", "instance": "shop-1:8000"}
SHOP_SYMPTOM = {"alertname": "ShopSaturationHigh", "severity": "warning", "job": "shop"}
SAME_INSTANCE_SYMPTOM = {"alertname": "ShopMemoryGrowth", "severity": "warning", "job": "shop",
                         "instance": "shop-1:8000"}
OTHER_INSTANCE_SYMPTOM = {**SAME_INSTANCE_SYMPTOM, "instance": "shop-2:8000"}
CAUSE = {"alertname": "ShopPaymentsErrorRatioHigh", "severity": "warning", "job": "shop", "peer": "payments"}
OTHER_JOB = {"alertname": "ShopReconcileJobFailed", "severity": "warning", "job": "reconcile"}
NO_HEALTHY_SHOP = {"alertname": "ShopNoHealthyTarget", "severity": "critical", "job": "shop"}
PROBE_FAILING = {"alertname": "ShopProbeFailing", "severity": "critical", "job": "shop_probe",
                 "instance": "http://edge:8000/products/1"}
PAYMENTS_DOWN = {"alertname": "ShopTargetDown", "severity": "critical", "job": "payments",
                 "instance": "payments:8001"}
INHIBITION_CASES = {
    # name: (alerts posted, the ones Alertmanager must suppress)
    "a page silences the ticket of the same SLO only": (
        {"page": PAGE, "ticket same slo": TICKET_SAME_SLO, "ticket other slo": TICKET_OTHER_SLO,
         "cause": CAUSE, "other job": OTHER_JOB},
        {"ticket same slo"}),
    # Three replicas, one hung: the shop-wide pages still reach someone; only the hung replica's own
    # symptoms are silenced, not its healthy siblings'.
    "one shop replica down silences the symptoms of that instance only": (
        {"shop down": SHOP_DOWN, "page": PAGE, "ticket other slo": TICKET_OTHER_SLO, "symptom": SHOP_SYMPTOM,
         "same instance": SAME_INSTANCE_SYMPTOM, "other instance": OTHER_INSTANCE_SYMPTOM, "cause": CAUSE,
         "other job": OTHER_JOB},
        {"same instance"}),
    # The whole shop down: one page for the outage (and the probe's outside view), not one per replica;
    # payments down is another cause and still pages.
    "no healthy shop silences the shop's per-instance target pages only": (
        {"no healthy shop": NO_HEALTHY_SHOP, "shop down": SHOP_DOWN,
         "shop-2 down": {**SHOP_DOWN, "instance": "shop-2:8000"}, "probe": PROBE_FAILING,
         "payments down": PAYMENTS_DOWN, "page": PAGE},
        {"shop down", "shop-2 down"}),
}


@pytest.fixture
def alertmanager(tmp_path):
    """A real Alertmanager with our config; the webhook points at a local port nothing listens on."""
    rendered = native_config.render_alertmanager(CONFIG.read_text(), {"inbox": f"http://127.0.0.1:{free_port()}"},
                                                 fast=False)
    config = native_config.write_yaml(str(tmp_path / "alertmanager.yml"), rendered)
    port = free_port()
    process = ManagedProcess("alertmanager", [
        binaries.find("alertmanager"), f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], None,
        str(tmp_path / "alertmanager.log")).start()
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, "Alertmanager to be ready", 30)
        yield url
    finally:
        process.stop()


@pytest.mark.parametrize("posted,suppressed", INHIBITION_CASES.values(), ids=INHIBITION_CASES.keys())
def test_inhibition_in_a_real_alertmanager(alertmanager, posted, suppressed):
    """Alertmanager suppresses exactly the alerts the inhibition rules say, and nothing else."""
    now = datetime.now(UTC)
    body = [{"labels": labels, "annotations": {"summary": key}, "startsAt": now.isoformat(),
             "endsAt": (now + timedelta(minutes=10)).isoformat()} for key, labels in posted.items()]
    requests.post(alertmanager + "/api/v2/alerts", json=body, timeout=5).raise_for_status()

    def states():
        listed = requests.get(alertmanager + "/api/v2/alerts", timeout=5).json()
        by_key = {alert["annotations"]["summary"]: alert["status"]["state"] for alert in listed}
        return by_key if len(by_key) == len(posted) else None
    seen = poll_until(states, "Alertmanager to list every posted alert", 20)
    assert {key for key, state in seen.items() if state == "suppressed"} == suppressed, seen
