"""The fault scenario catalog (loadgen/scenarios.yaml): load it and validate every entry.

The catalog is data; this module only reads and checks it, and every problem
is reported as a whole sentence naming the scenario and the field.
"""
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from loadgen.process_control import STOPPABLE_SERVICES

CATALOG_FILE = os.path.join(os.path.dirname(__file__), "scenarios.yaml")
FAULT_SERVICES = ("shop", "payments", "inbox")
# What the drill reports for a scenario with `dead_mans_switch: true`: the inbox's heartbeat turned late
# (its "Alerting pipeline broken" banner), a signal from outside the pipeline that no alert can give.
PIPELINE_BROKEN = "alerting pipeline broken"
# Its runbook: the section of the always-firing Watchdog (tests/unit/loadgen/test_catalog.py holds the name).
DEAD_MANS_SWITCH_RUNBOOK = "watchdog"
LOADGEN_ACTIONS = ("rate_multiplier",)
# What a scenario may do to a service's process (natively the launcher does it: loadgen/process_control.py).
PROCESS_ACTIONS = ("stop",)
DASHBOARD_UIDS = ("shop-overview", "shop-dependencies", "shop-business", "shop-slos", "shop-instrumentation-101",
                  "shop-monitoring")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# Shop... for the shop's alerts; the mixins' names (PrometheusRuleFailures, ...) for the monitoring's own.
_ALERT = re.compile(r"^[A-Z][a-z]+[A-Z][A-Za-z0-9]*$")
_FIELDS = {"name", "title", "description", "change", "default_duration_seconds", "expected_alerts",
           "tolerated_alerts", "dashboard", "runbook", "drill", "dead_mans_switch"}


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or has an invalid entry."""


@dataclass(frozen=True)
class Scenario:
    """One fault scenario: what it changes, for how long, and which alerts must say so."""
    name: str
    title: str
    description: str
    service: str            # shop, payments, inbox, or loadgen (traffic-spike)
    knob: str               # the fault knob, the load generator action, or the process action (stop)
    params: dict[str, Any]
    default_duration_seconds: int
    expected_alerts: tuple[str, ...]
    tolerated_alerts: tuple[str, ...]
    dashboard_uid: str
    dashboard_panel: str
    runbook: str
    detect_within_seconds: int = 240
    resolve_within_seconds: int = 300
    # True when what must tell us is the inbox's dead man's switch, not an alert (the pipeline itself is broken).
    dead_mans_switch: bool = False
    # True when the scenario stops the service's process (change.action: stop) instead of switching a knob.
    stops_process: bool = False

    @property
    def expected_signals(self) -> tuple[str, ...]:
        """What must tell us, as the drill reports it: the expected alerts, and the dead man's switch if it is one."""
        return self.expected_alerts + ((PIPELINE_BROKEN,) if self.dead_mans_switch else ())

    @property
    def is_fault(self) -> bool:
        """True when the scenario switches a service's fault knob (not the load generator's rate, not a process)."""
        return self.service in FAULT_SERVICES and not self.stops_process

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description for the console and the CLI."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "service": self.service, "knob": self.knob, "params": dict(self.params),
                "default_duration_seconds": self.default_duration_seconds,
                "expected_alerts": list(self.expected_alerts), "tolerated_alerts": list(self.tolerated_alerts),
                "dead_mans_switch": self.dead_mans_switch, "stops_process": self.stops_process,
                "dashboard": {"uid": self.dashboard_uid, "panel": self.dashboard_panel},
                "runbook": self.runbook}


# Scenarios by name, in catalog order.
Catalog = dict[str, Scenario]


def _require(condition, name, message):
    if not condition:
        raise CatalogError(f"Scenario {name!r} in the catalog: {message}")


def _alerts(entry, key, name):
    alerts = entry.get(key, [])
    _require(isinstance(alerts, list) and all(isinstance(a, str) and _ALERT.match(a) for a in alerts), name,
             f"{key} must be a list of alert names like ShopSomethingWrong.")
    return tuple(alerts)


def _positive_int(value, name, key):
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0, name,
             f"{key} must be a positive whole number of seconds.")
    return value


def _check_spike(params, name):
    """The load generator's own parameters: multiplier, minimum_rate and an optional journey mix."""
    from loadgen.journeys import JOURNEYS
    unknown = sorted(set(params) - {"multiplier", "minimum_rate", "mix"})
    _require(not unknown, name, f"the load generator has no parameter {', '.join(unknown)}.")
    number = (int, float)
    _require(isinstance(params.get("multiplier"), number) and params["multiplier"] > 0, name,
             "params.multiplier must be a positive number.")
    _require(isinstance(params.get("minimum_rate", 0), number) and params.get("minimum_rate", 0) >= 0, name,
             "params.minimum_rate must be a number of journeys per second, 0 or more.")
    mix = params.get("mix", {"browse": 1})
    _require(isinstance(mix, dict) and set(mix) <= set(JOURNEYS) and mix
             and all(isinstance(w, number) and w >= 0 for w in mix.values()) and sum(mix.values()) > 0, name,
             f"params.mix must give journeys ({', '.join(JOURNEYS)}) weights of 0 or more.")


def _check_process_action(change, name):
    """change: {service, action: stop}: only a service the launcher may stop, no knob, no parameters."""
    _require("knob" not in change, name, "change gives both a knob and an action; a scenario does one of them.")
    _require(change["action"] in PROCESS_ACTIONS, name,
             f"change.action for a service must be one of {', '.join(PROCESS_ACTIONS)}, not {change['action']!r} "
             "(a fault is switched with change.knob).")
    _require(change["service"] in STOPPABLE_SERVICES, name,
             f"change.action {change['action']} is possible only for {', '.join(STOPPABLE_SERVICES)}, "
             f"not {change['service']}.")
    _require(not change.get("params"), name, f"change.action {change['action']} takes no params.")


def parse_scenario(entry: object) -> Scenario:
    """Turn one catalog entry (a dict) into a Scenario, or raise CatalogError."""
    if not isinstance(entry, dict):
        raise CatalogError("Every catalog entry must be a mapping with at least a name.")
    name = entry.get("name")
    _require(isinstance(name, str) and _NAME.match(name), name, "name must be lower-case words joined by '-'.")
    unknown = sorted(set(entry) - _FIELDS)
    _require(not unknown, name, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}.")
    for key in ("title", "description", "runbook"):
        _require(isinstance(entry.get(key), str) and entry[key].strip(), name, f"{key} must be a non-empty string.")
    change = entry.get("change")
    _require(isinstance(change, dict), name, "change must say what the scenario changes (service, knob, params).")
    service = change.get("service")
    _require(service in FAULT_SERVICES + ("loadgen",), name,
             f"change.service must be one of {', '.join(FAULT_SERVICES + ('loadgen',))}, not {service!r}.")
    stops_process = service != "loadgen" and "action" in change
    if stops_process:
        _check_process_action(change, name)
    knob = change.get("knob") if service != "loadgen" and not stops_process else change.get("action")
    _require(isinstance(knob, str) and knob, name,
             "change.knob (or change.action for the load generator or a process) must name what to switch.")
    if service == "loadgen":
        _require(knob in LOADGEN_ACTIONS, name, f"the load generator supports only {', '.join(LOADGEN_ACTIONS)}.")
    params = change.get("params", {})
    _require(isinstance(params, dict), name, "change.params must be a mapping of knob parameters.")
    if service == "loadgen":
        _check_spike(params, name)
    expected = _alerts(entry, "expected_alerts", name)
    tolerated = _alerts(entry, "tolerated_alerts", name)
    dead_mans_switch = entry.get("dead_mans_switch", False)
    _require(isinstance(dead_mans_switch, bool), name, "dead_mans_switch must be true or false.")
    _require(expected or dead_mans_switch, name,
             "expected_alerts must name at least one alert (or dead_mans_switch be true: a broken pipeline "
             "delivers none).")
    _require(not set(expected) & set(tolerated), name, "an alert cannot be both expected and tolerated.")
    dashboard = entry.get("dashboard")
    _require(isinstance(dashboard, dict) and dashboard.get("uid") in DASHBOARD_UIDS, name,
             f"dashboard.uid must be one of {', '.join(DASHBOARD_UIDS)}.")
    _require(isinstance(dashboard.get("panel"), str) and dashboard["panel"], name,
             "dashboard.panel must be the title of the panel that tells the story.")
    anchors = {a.lower() for a in expected} | ({DEAD_MANS_SWITCH_RUNBOOK} if dead_mans_switch else set())
    _require(entry["runbook"] in anchors, name,
             "runbook must be the anchor of one expected alert's runbook section (the alert name in lower case), "
             f"or {DEAD_MANS_SWITCH_RUNBOOK} for the dead man's switch.")
    drill = entry.get("drill", {})
    _require(isinstance(drill, dict) and set(drill) <= {"detect_within_seconds", "resolve_within_seconds"}, name,
             "drill may only set detect_within_seconds and resolve_within_seconds.")
    return Scenario(
        name=name, title=entry["title"].strip(), description=" ".join(entry["description"].split()),
        service=service, knob=knob, params=dict(params),
        default_duration_seconds=_positive_int(entry.get("default_duration_seconds"), name,
                                               "default_duration_seconds"),
        expected_alerts=expected, tolerated_alerts=tolerated,
        dashboard_uid=dashboard["uid"], dashboard_panel=dashboard["panel"], runbook=entry["runbook"],
        dead_mans_switch=dead_mans_switch, stops_process=stops_process,
        detect_within_seconds=_positive_int(drill.get("detect_within_seconds", 240), name, "detect_within_seconds"),
        resolve_within_seconds=_positive_int(drill.get("resolve_within_seconds", 300), name,
                                             "resolve_within_seconds"))


def _read(path):
    try:
        with open(path) as handle:
            return yaml.safe_load(handle)
    except OSError as error:
        raise CatalogError(f"Cannot read the scenario catalog {path}: {error.strerror}.") from None
    except yaml.YAMLError as error:
        raise CatalogError(f"The scenario catalog {path} is not valid YAML: {error}") from None


def _drill_matchers(path: str, key: str) -> list[dict[str, re.Pattern[str]]]:
    """The label matchers of `drill.<key>` in the catalog: [{label: compiled regex}], validated."""
    document = _read(path)
    entries = (document.get("drill") or {}).get(key, []) if isinstance(document, dict) else []
    if not isinstance(entries, list):
        raise CatalogError(f"drill.{key} in {path} must be a list of label matchers.")
    matchers = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry or not all(isinstance(v, str) for v in entry.values()):
            raise CatalogError(f"Each drill.{key} entry in {path} must map label names to regular expressions.")
        try:
            matchers.append({label: re.compile(pattern) for label, pattern in entry.items()})
        except re.error as error:
            raise CatalogError(f"drill.{key} in {path} has an invalid regular expression: {error}.") from None
    return matchers


def load_slow_to_resolve(path: str = CATALOG_FILE) -> list[dict[str, re.Pattern[str]]]:
    """The drill's `slow_to_resolve` label matchers: [{label: compiled regex}], validated."""
    return _drill_matchers(path, "slow_to_resolve")


def load_heartbeats(path: str = CATALOG_FILE) -> list[dict[str, re.Pattern[str]]]:
    """The drill's `heartbeats` label matchers: alerts that always fire by design, which the drill ignores."""
    return _drill_matchers(path, "heartbeats")


def load_catalog(path: str = CATALOG_FILE) -> Catalog:
    """Read and validate the catalog; return an ordered {name: Scenario}."""
    document = _read(path)
    if not isinstance(document, dict) or not isinstance(document.get("scenarios"), list):
        raise CatalogError(f"The scenario catalog {path} must have a top-level list named 'scenarios'.")
    catalog = {}
    for entry in document["scenarios"]:
        scenario = parse_scenario(entry)
        if scenario.name in catalog:
            raise CatalogError(f"Scenario {scenario.name!r} appears twice in the catalog {path}.")
        catalog[scenario.name] = scenario
    if not catalog:
        raise CatalogError(f"The scenario catalog {path} lists no scenarios.")
    return catalog


def select(catalog: Catalog, names: Sequence[str]) -> list[Scenario]:
    """The scenarios called `names` in catalog order (all when names is empty), or CatalogError."""
    unknown = [name for name in names if name not in catalog]
    if unknown:
        raise CatalogError(f"Unknown scenario(s) {', '.join(unknown)}; the catalog has: {', '.join(catalog)}.")
    return [catalog[name] for name in names] if names else list(catalog.values())
