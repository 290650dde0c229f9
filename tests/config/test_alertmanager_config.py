"""Alertmanager configuration: amtool checks, one routing case per severity
path (alertmanager/tests/routes.yml), and inhibition checked twice: against the
alerts the promtool tests expect, and in a real Alertmanager (tests/process/test_alertmanager_inhibition.py)."""
import re
import subprocess

import pytest

from app.inbox import DEFAULT_MAX_ALERTS, heartbeat
from launcher import binaries
from launcher.config import render_alertmanager
from tests.helpers.rule_files import REPO, alert_cases, alert_names, load_yaml, rules

CONFIG = REPO / "alertmanager" / "alertmanager.yml"
ROUTE_CASES = load_yaml(REPO / "alertmanager" / "tests" / "routes.yml")["cases"]
INBOX_WEBHOOK = "http://inbox:8002/webhook"
INBOX_HEARTBEAT = "http://inbox:8002/heartbeat"
HEARTBEAT_RECEIVER = "heartbeat"
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
    """All notifications, firing and resolved, go to the alert inbox; the heartbeat to its /heartbeat, firing only."""
    for receiver in load_yaml(CONFIG)["receivers"]:
        hooks = receiver.get("webhook_configs", [])
        if receiver["name"] == HEARTBEAT_RECEIVER:
            assert [(hook["url"], hook.get("send_resolved")) for hook in hooks] == [(INBOX_HEARTBEAT, False)]
            continue
        assert [hook["url"] for hook in hooks] == [INBOX_WEBHOOK], receiver["name"]
        assert all(hook.get("send_resolved") is True for hook in hooks), receiver["name"]


def test_timers_suit_a_demo_and_do_not_spam():
    """Quick first notification, quick updates, and repeats no more often than hourly (but the heartbeat's)."""
    config = load_yaml(CONFIG)
    for route in routes(config["route"]):
        effective = {**config["route"], **route}
        assert seconds(effective["group_wait"]) <= 60
        assert seconds(effective["group_interval"]) <= 60
        if route.get("receiver") != HEARTBEAT_RECEIVER:
            assert seconds(effective["repeat_interval"]) >= 3600
    assert {"alertname", "slo"} <= set(config["route"]["group_by"])


def heartbeat_routes(config):
    """The routes that lead to the heartbeat receiver."""
    return [route for route in routes(config["route"]) if route.get("receiver") == HEARTBEAT_RECEIVER]


def test_the_heartbeat_route_beats_as_often_as_the_inbox_expects():
    """One route takes the always-firing alerts (the rules' `expr: vector(1)`), first, and repeats them at
    the cadence app/inbox/heartbeat.py expects; the inbox calls the pipeline broken only after two beats
    went missing, and within the 2 minutes the issue promises."""
    config = load_yaml(CONFIG)
    route, = heartbeat_routes(config)
    assert config["route"]["routes"][0] is route, "the heartbeat route must come before the severity routes"
    always = {rule["alert"] for _path, rule in rules("alert") if str(rule["expr"]).strip() == "vector(1)"}
    assert always and route["matchers"] == [f'alertname="{name}"' for name in sorted(always)]
    assert route.get("continue") is not True, "the heartbeat must not reach the notification receivers too"
    cadence = seconds(route["repeat_interval"]) + seconds(route["group_interval"])
    assert seconds(route["repeat_interval"]) == heartbeat.HEARTBEAT_REPEAT_SECONDS
    assert 2 * cadence <= heartbeat.DEFAULT_LATE_SECONDS <= 120


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


def test_every_webhook_sends_the_inbox_token_and_at_most_the_alerts_the_inbox_takes():
    """Alertmanager authenticates to the inbox (the file compose mounts from the alertmanager-webhook-token
    volume) and truncates to the inbox's per-notification cap instead of being refused."""
    compose = load_yaml(REPO / "docker-compose.yml")
    mounts = [m for m in compose["services"]["alertmanager"]["volumes"] if m.startswith("alertmanager-webhook-token:")]
    secrets_dir = mounts[0].split(":")[1]
    for receiver in load_yaml(CONFIG)["receivers"]:
        for hook in receiver["webhook_configs"]:
            authorization = hook["http_config"]["authorization"]
            assert authorization.get("type", "Bearer") == "Bearer", receiver["name"]
            assert authorization["credentials_file"] == f"{secrets_dir}/webhook_token", receiver["name"]
            assert "credentials" not in authorization, "the token belongs in a file, never in the config"
            assert 0 < hook["max_alerts"] <= DEFAULT_MAX_ALERTS, receiver["name"]


def test_the_native_stack_points_every_webhook_at_its_own_token_file():
    rendered = render_alertmanager(CONFIG.read_text(), {"inbox": "http://127.0.0.1:18002"}, False, "/stack/token")
    files = {hook["http_config"]["authorization"]["credentials_file"]
             for receiver in rendered["receivers"] for hook in receiver["webhook_configs"]}
    assert files == {"/stack/token"}


def test_a_target_down_inhibits_per_instance_never_per_job():
    """An inhibition whose source is ShopTargetDown compares the instance: with several replicas of a job,
    one replica down must not silence alerts about the others or the job as a whole (the one-hung-replica
    case, run in a real Alertmanager by tests/process/test_alertmanager_inhibition.py)."""
    target_down = [rule for rule in load_yaml(CONFIG)["inhibit_rules"]
                   if matches(rule["source_matchers"], {"alertname": "ShopTargetDown"})]
    assert target_down, "No inhibition has ShopTargetDown as its source."
    for rule in target_down:
        assert {"job", "instance"} <= set(rule["equal"]), f"{rule} silences a whole job for one instance."
