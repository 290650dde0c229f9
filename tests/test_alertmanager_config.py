"""Alertmanager configuration: amtool checks, one routing case per severity
path (alertmanager/tests/routes.yml), and inhibition checked twice: against the
alerts the promtool tests expect, and in a real Alertmanager."""
import re
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
import requests

from native import binaries, config as native_config
from native.ports import free_port
from native.processes import ManagedProcess
from native.waiting import poll_until
from tests.rule_files import REPO, alert_cases, alert_names, load_yaml, rules

CONFIG = REPO / "alertmanager" / "alertmanager.yml"
ROUTE_CASES = load_yaml(REPO / "alertmanager" / "tests" / "routes.yml")["cases"]
INBOX_WEBHOOK = "http://inbox:8002/webhook"
_MATCHER = re.compile(r'^(\w+)(=~|!~|!=|=)"(.*)"$')
_UNITS = {"s": 1, "m": 60, "h": 3600}


def seconds(duration):
    """Seconds in an Alertmanager duration such as 30s, 1m or 4h."""
    return int(duration[:-1]) * _UNITS[duration[-1]]


def matches(matchers, labels):
    """True when a label set satisfies every matcher string ('name="v"', 'name=~"re"', ...)."""
    for matcher in matchers:
        name, op, value = _MATCHER.match(matcher).groups()
        actual = labels.get(name, "")
        hit = re.fullmatch(value, actual) is not None if "~" in op else actual == value
        if hit == op.startswith("!"):
            return False
    return True


def routes(route):
    """A route and all routes below it."""
    yield route
    for child in route.get("routes", []):
        yield from routes(child)


def test_config_passes_amtool_check_config():
    """amtool accepts the configuration."""
    result = subprocess.run([binaries.find("amtool"), "check-config", str(CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", ROUTE_CASES, ids=lambda case: case["name"])
def test_route(case):
    """An alert with these labels reaches exactly the expected receivers."""
    labels = [f"{name}={value}" for name, value in case["labels"].items()]
    result = subprocess.run([binaries.find("amtool"), "config", "routes", "test", f"--config.file={CONFIG}",
                             f"--verify.receivers={','.join(case['receivers'])}", *labels],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{case['name']}: {result.stdout}{result.stderr}"


def test_every_route_and_every_severity_has_a_routing_case():
    """Each receiver of the route tree, and each severity the rules use, is covered by a case."""
    config = load_yaml(CONFIG)
    tested = {receiver for case in ROUTE_CASES for receiver in case["receivers"]}
    assert {route["receiver"] for route in routes(config["route"]) if "receiver" in route} <= tested
    severities = {rule["labels"]["severity"] for _path, rule in rules("alert")}
    assert severities <= {case["labels"].get("severity") for case in ROUTE_CASES}


def test_every_receiver_is_the_inbox_with_resolved_notifications():
    """All notifications, firing and resolved, go to the alert inbox."""
    for receiver in load_yaml(CONFIG)["receivers"]:
        hooks = receiver.get("webhook_configs", [])
        assert [hook["url"] for hook in hooks] == [INBOX_WEBHOOK], receiver["name"]
        assert all(hook.get("send_resolved") is True for hook in hooks), receiver["name"]


def test_timers_suit_a_demo_and_do_not_spam():
    """Quick first notification, quick updates, and repeats no more often than hourly."""
    config = load_yaml(CONFIG)
    for route in routes(config["route"]):
        effective = {**config["route"], **route}
        assert seconds(effective["group_wait"]) <= 60
        assert seconds(effective["group_interval"]) <= 60
        assert seconds(effective["repeat_interval"]) >= 3600
    assert {"alertname", "slo"} <= set(config["route"]["group_by"])


def test_inhibition_rules_fit_the_alerts_they_name():
    """Every alert an inhibition names exists, and the alerts it pairs carry the labels it compares.

    The label sets come from the promtool tests' firing cases: what the rules really produce.
    """
    produced = [labels for case in alert_cases() for labels in case.expected]
    for rule in load_yaml(CONFIG)["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            name, op, value = _MATCHER.match(matcher).groups()
            if name == "alertname":
                assert set(value.split("|")) <= alert_names(), f"Inhibition names an unknown alert: {value}"
        sources = [labels for labels in produced if matches(rule["source_matchers"], labels)]
        targets = [labels for labels in produced if matches(rule["target_matchers"], labels)]
        assert sources and targets, f"The inhibition {rule} never applies to an alert we produce."
        for labels in sources + targets:
            missing = set(rule["equal"]) - set(labels)
            assert not missing, f"{labels['alertname']} lacks {missing}, which the inhibition {rule} compares."


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


PAGE = {"alertname": "ShopCheckoutBudgetBurn", "severity": "critical", "slo": "checkout", "profile": "demo",
        "window": "4m", "job": "shop"}
TICKET_SAME_SLO = {**PAGE, "severity": "warning", "window": "96m"}
TICKET_OTHER_SLO = {**TICKET_SAME_SLO, "alertname": "ShopLatencyBudgetBurn", "slo": "latency"}
SHOP_DOWN = {"alertname": "ShopTargetDown", "severity": "critical", "job": "shop", "instance": "shop:8000"}
SHOP_SYMPTOM = {"alertname": "ShopSaturationHigh", "severity": "warning", "job": "shop"}
CAUSE = {"alertname": "ShopPaymentsErrorRatioHigh", "severity": "warning", "job": "shop", "peer": "payments"}
OTHER_JOB = {"alertname": "ShopReconcileJobFailed", "severity": "warning", "job": "reconcile"}
INHIBITION_CASES = {
    # name: (alerts posted, the ones Alertmanager must suppress)
    "a page silences the ticket of the same SLO only": (
        {"page": PAGE, "ticket same slo": TICKET_SAME_SLO, "ticket other slo": TICKET_OTHER_SLO,
         "cause": CAUSE, "other job": OTHER_JOB},
        {"ticket same slo"}),
    "a shop target down silences the shop's symptoms only": (
        {"shop down": SHOP_DOWN, "page": PAGE, "ticket other slo": TICKET_OTHER_SLO, "symptom": SHOP_SYMPTOM,
         "cause": CAUSE, "other job": OTHER_JOB},
        {"page", "ticket other slo", "symptom"}),
}


@pytest.mark.parametrize("posted,suppressed", INHIBITION_CASES.values(), ids=INHIBITION_CASES.keys())
def test_inhibition_in_a_real_alertmanager(alertmanager, posted, suppressed):
    """Alertmanager suppresses exactly the alerts the inhibition rules say, and nothing else."""
    now = datetime.now(timezone.utc)
    body = [{"labels": labels, "annotations": {"summary": key}, "startsAt": now.isoformat(),
             "endsAt": (now + timedelta(minutes=10)).isoformat()} for key, labels in posted.items()]
    requests.post(alertmanager + "/api/v2/alerts", json=body, timeout=5).raise_for_status()

    def states():
        listed = requests.get(alertmanager + "/api/v2/alerts", timeout=5).json()
        by_key = {alert["annotations"]["summary"]: alert["status"]["state"] for alert in listed}
        return by_key if len(by_key) == len(posted) else None
    seen = poll_until(states, "Alertmanager to list every posted alert", 20)
    assert {key for key, state in seen.items() if state == "suppressed"} == suppressed, seen
