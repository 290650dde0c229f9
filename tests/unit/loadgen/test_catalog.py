"""The scenario catalog held against everything it names: alert rules, fault knobs, runbooks, dashboards."""
import glob
import json
import os
import re

import pytest
import yaml

from app.common.errors import ApiError
from app.common.faults import MAX_DURATION_SECONDS
from loadgen import alerts as alert_api
from loadgen import scenario_manager
from loadgen.catalog import (
    CATALOG_FILE,
    CatalogError,
    load_catalog,
    load_heartbeats,
    load_slow_to_resolve,
    parse_scenario,
)
from tests.helpers.paths import REPO

REQUIRED = ("payments-latency", "payments-errors", "payments-outage", "shop-slow-code", "traffic-spike",
            "checkout-silent-failure", "memory-leak", "batch-job-failure", "bad-deploy", "alerting-pipeline-broken",
            "shop-down")
CATALOG = load_catalog()


def alert_names():
    """Every alert defined in prometheus/rules/*.yml."""
    names = set()
    for path in glob.glob(os.path.join(REPO, "prometheus", "rules", "*.yml")):
        with open(path) as rules:
            for group in yaml.safe_load(rules)["groups"]:
                names |= {rule["alert"] for rule in group["rules"] if "alert" in rule}
    return names


def knobs(service):
    """{knob name: Knob} declared in app/<service>/faults.py."""
    module = __import__(f"app.{service}.faults", fromlist=["KNOBS"])
    return {knob.name: knob for knob in module.KNOBS}


def test_catalog_has_every_required_scenario():
    assert set(REQUIRED) <= set(CATALOG)


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_alert_a_scenario_names_exists_in_the_rules(name):
    scenario = CATALOG[name]
    missing = set(scenario.expected_alerts + scenario.tolerated_alerts) - alert_names()
    assert not missing, f"{name} names alerts that no rule in prometheus/rules/ defines: {sorted(missing)}"


@pytest.mark.parametrize("name", [n for n, s in CATALOG.items() if s.is_fault])
def test_every_fault_scenario_switches_a_real_knob_with_valid_parameters(name):
    scenario = CATALOG[name]
    declared = knobs(scenario.service)
    assert scenario.knob in declared, f"{name}: {scenario.service} has no knob {scenario.knob}"
    try:
        declared[scenario.knob].validate(scenario.params)
    except ApiError as error:
        pytest.fail(f"{name}: the {scenario.service} admin API would refuse these parameters: {error.message}")
    assert scenario.default_duration_seconds <= MAX_DURATION_SECONDS


def test_loadgen_duration_limit_matches_the_services():
    assert scenario_manager.MAX_DURATION_SECONDS == MAX_DURATION_SECONDS


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_runbook_anchor_exists(name):
    from app.inbox.runbooks import heading_id  # the anchors the inbox serves at /runbooks
    with open(os.path.join(REPO, "docs", "runbooks.md")) as runbooks:
        anchors = {heading_id(match) for match in re.findall(r"^#{1,6}\s+(.+?)\s*$", runbooks.read(), re.M)}
    assert CATALOG[name].runbook in anchors, f"docs/runbooks.md has no section #{CATALOG[name].runbook}"


def dashboards():
    """{uid: set of panel titles} of grafana/dashboards/**/*.json (rows and nested panels included)."""
    found = {}
    for path in glob.glob(os.path.join(REPO, "grafana", "dashboards", "**", "*.json"), recursive=True):
        with open(path) as source:
            dashboard = json.load(source)
        titles, stack = set(), list(dashboard.get("panels", []))
        while stack:
            panel = stack.pop()
            titles.add(panel.get("title", ""))
            stack.extend(panel.get("panels", []))
        found[dashboard.get("uid")] = titles
    return found


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_dashboard_panel_a_scenario_names_exists(name):
    scenario = CATALOG[name]
    found = dashboards()
    assert scenario.dashboard_uid in found, f"{name}: no dashboard with uid {scenario.dashboard_uid}"
    assert scenario.dashboard_panel in found[scenario.dashboard_uid], (
        f"{name}: dashboard {scenario.dashboard_uid} has no panel titled {scenario.dashboard_panel!r}; "
        f"it has {sorted(found[scenario.dashboard_uid])}")


VALID = {"name": "x-y", "title": "T", "description": "D", "change": {"service": "shop", "knob": "slow_code"},
         "default_duration_seconds": 60, "expected_alerts": ["ShopLatencyBudgetBurn"],
         "dashboard": {"uid": "shop-overview", "panel": "P"}, "runbook": "shoplatencybudgetburn"}


@pytest.mark.parametrize("change, message", [
    ({"name": "Bad Name"}, "name must be lower-case words"),
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"change": {"service": "database", "knob": "x"}}, "change.service must be one of"),
    ({"change": {"service": "loadgen", "action": "reboot"}}, "supports only rate_multiplier"),
    ({"change": {"service": "loadgen", "action": "rate_multiplier", "params": {"multiplier": 0}}},
     "params.multiplier must be a positive number"),
    ({"change": {"service": "loadgen", "action": "rate_multiplier", "params": {"multiplier": 2, "mix": {"fly": 1}}}},
     "params.mix must give journeys"),
    ({"expected_alerts": []}, "expected_alerts must name at least one alert"),
    ({"expected_alerts": ["latency high"]}, "expected_alerts must be a list of alert names"),
    ({"tolerated_alerts": ["ShopLatencyBudgetBurn"]}, "both expected and tolerated"),
    ({"default_duration_seconds": 0}, "default_duration_seconds must be a positive whole number"),
    ({"dashboard": {"uid": "nope", "panel": "P"}}, "dashboard.uid must be one of"),
    ({"runbook": "shoptargetdown"}, "runbook must be the anchor of one expected alert"),
    ({"drill": {"deadline": 3}}, "drill may only set"),
    ({"change": {"service": "payments", "action": "stop"}}, "possible only for shop, not payments"),
    ({"change": {"service": "shop", "action": "restart"}}, "change.action for a service must be one of stop, not"),
    ({"change": {"service": "shop", "action": "stop", "knob": "slow_code"}}, "both a knob and an action"),
    ({"change": {"service": "shop", "action": "stop", "params": {"seconds": 5}}}, "change.action stop takes no params"),
])
def test_invalid_entries_are_refused_with_a_sentence(change, message):
    with pytest.raises(CatalogError, match=re.escape(message)) as error:
        parse_scenario({**VALID, **change})
    assert str(error.value).endswith(".")


def test_valid_entry_parses_and_duplicate_names_are_refused(tmp_path):
    assert parse_scenario(VALID).knob == "slow_code"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"scenarios": [VALID, VALID]}))
    with pytest.raises(CatalogError, match="appears twice"):
        load_catalog(str(path))
    path.write_text("scenarios: [unclosed")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(str(path))
    with pytest.raises(CatalogError, match="Cannot read"):
        load_catalog(str(tmp_path / "missing.yaml"))


def test_a_stop_entry_parses_as_a_process_scenario_not_a_fault():
    scenario = parse_scenario({**VALID, "change": {"service": "shop", "action": "stop"}})
    assert scenario.stops_process and not scenario.is_fault
    assert (scenario.service, scenario.knob, scenario.params) == ("shop", "stop", {})
    fault = parse_scenario(VALID)
    assert fault.is_fault and not fault.stops_process


def test_catalog_file_is_the_one_the_loader_reads():
    assert os.path.samefile(CATALOG_FILE, os.path.join(REPO, "loadgen", "scenarios.yaml"))


def always_firing_alerts():
    """The alerts whose rule fires all the time (`expr: vector(1)`): the dead man's switch."""
    names = set()
    for path in glob.glob(os.path.join(REPO, "prometheus", "rules", "*.yml")):
        with open(path) as rules:
            for group in yaml.safe_load(rules)["groups"]:
                names |= {rule["alert"] for rule in group["rules"]
                          if "alert" in rule and str(rule["expr"]).strip() == "vector(1)"}
    return names


def test_the_drill_ignores_exactly_the_always_firing_alerts():
    """drill.heartbeats matches the Watchdog (else no baseline would be quiet) and no alert a scenario needs."""
    heartbeats = load_heartbeats()
    assert always_firing_alerts() == {"Watchdog"}
    for name in alert_names():
        assert alert_api.matches({"alertname": name}, heartbeats) == (name in always_firing_alerts()), name
    for scenario in CATALOG.values():
        assert not set(scenario.expected_alerts + scenario.tolerated_alerts) & always_firing_alerts()


def test_drill_matchers_are_validated_with_a_sentence(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"drill": {"heartbeats": [{"alertname": 1}]}, "scenarios": [VALID]}))
    with pytest.raises(CatalogError, match="Each drill.heartbeats entry .* must map label names"):
        load_heartbeats(str(path))


def test_the_dead_mans_switch_scenario_shows_within_two_minutes():
    """alerting-pipeline-broken is judged by the inbox's heartbeat, whose late threshold fits the drill's deadline."""
    from app.inbox import heartbeat
    from loadgen.catalog import DEAD_MANS_SWITCH_RUNBOOK, PIPELINE_BROKEN
    scenario = CATALOG["alerting-pipeline-broken"]
    assert scenario.dead_mans_switch and scenario.expected_signals == (PIPELINE_BROKEN,)
    assert scenario.service == "inbox" and scenario.knob in knobs("inbox")
    assert heartbeat.DEFAULT_LATE_SECONDS + heartbeat.HEARTBEAT_REPEAT_SECONDS <= scenario.detect_within_seconds <= 120
    assert {DEAD_MANS_SWITCH_RUNBOOK} == {name.lower() for name in always_firing_alerts()}
    with pytest.raises(CatalogError, match="expected_alerts must name at least one alert"):
        parse_scenario({**VALID, "expected_alerts": []})
    parse_scenario({**VALID, "expected_alerts": [], "dead_mans_switch": True, "runbook": DEAD_MANS_SWITCH_RUNBOOK})


def test_alerts_that_outlive_a_short_fault_by_design_are_not_awaited_by_the_drill():
    """SLO tickets (long windows) and the reconcile job's findings (its hour-long look back) stay firing long
    after a two-minute fault: the drill records them without waiting for their resolution."""
    slow = load_slow_to_resolve()
    assert alert_api.matches({"alertname": "ShopChargesWithoutOrder", "severity": "warning"}, slow)
    assert alert_api.matches({"alertname": "ShopLatencyBudgetBurn", "severity": "warning", "slo": "latency"}, slow)
    assert not alert_api.matches({"alertname": "ShopLatencyBudgetBurn", "severity": "critical", "slo": "latency"},
                                 slow)
    assert not alert_api.matches({"alertname": "ShopOrdersDropped", "severity": "critical"}, slow)
