"""A scenario's story as it happens, for the console: which alerts fired after Start, and when they resolved.

Pure functions over the inbox's alert entries (oldest first), with the
drill's reading of them (loadgen/timeline.py, loadgen/alerts.py): an alert
series is a fingerprint; a series already firing at Start is carried over
and not credited to the scenario; series matching the catalog's
`drill.slow_to_resolve` are slow-burn tickets that outlive a short fault by
design; the always-firing heartbeat is ignored. Unlike the drill, the
carried-over series are read from the inbox alone (what it had received
before Start), since the console asks only after the fact.
"""
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from loadgen import alerts, slow_burn, timeline
from loadgen.catalog import Scenario
from loadgen.scenario_history import Run

Matchers = Sequence[Mapping[str, re.Pattern[str]]]
ROLES = ("expected", "tolerated", "unexpected")


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.0f} s"


def _line(entry: Mapping[str, Any], role: str, run: Run, latest: Mapping[str, Any], slow: bool) -> dict[str, Any]:
    """One series that fired after Start: when, and what became of it."""
    fired_after = entry["received_at"] - run["started_at"]
    stopped = run["stopped_at"]
    text = f"{alerts.describe(entry)}: fired {_seconds(fired_after)} after Start"
    resolved_after_stop = None
    if latest["status"] == "resolved":
        if stopped is not None and latest["received_at"] >= stopped:
            resolved_after_stop = round(latest["received_at"] - stopped, 1)
            text += f", resolved {_seconds(resolved_after_stop)} after Stop"
        else:
            text += (f", resolved {_seconds(latest['received_at'] - run['started_at'])} after Start, "
                     "while the scenario still ran")
    elif slow:
        text += ", still firing: a slow-burn ticket (see below)"
    else:
        text += ", still firing" + ("; its resolved notification follows" if stopped is not None else "")
    if stopped is not None and entry["received_at"] > stopped:
        text += " (first notified after Stop)"
    if role == "tolerated":
        text += " [tolerated: a symptom of the same cause]"
    elif role == "unexpected":
        text += " [not expected for this scenario]"
    return {"alertname": entry["alertname"], "series": alerts.describe(entry), "role": role, "slow": slow,
            "fired_after_start": round(fired_after, 1), "status": latest["status"],
            "resolved_after_stop": resolved_after_stop, "text": text}


def _waiting(name: str, scenario: Scenario, run: Run, now: float) -> dict[str, Any]:
    """An expected alert with no firing notification since Start (yet)."""
    if run["stopped_at"] is None:
        text = (f"{name}: not fired yet, {_seconds(now - run['started_at'])} after Start (the drill allows "
                f"{scenario.detect_within_seconds} s)")
    else:
        text = f"{name}: did not fire before Stop"
    return {"alertname": name, "series": name, "role": "expected", "slow": False, "fired_after_start": None,
            "status": "waiting", "resolved_after_stop": None, "text": text}


def story(scenario: Scenario, run: Run, entries: Iterable[Mapping[str, Any]], now: float,
          slow_to_resolve: Matchers = (), heartbeats: Matchers = ()) -> dict[str, Any]:
    """The scenario's run told from inbox entries (oldest first, from before Start to now), as JSON-ready data:
    one line per alert series that fired after Start, expected ones first, and one per expected alert not
    seen yet; `slow_burn` explains SLO tickets for scenarios that can set them off."""
    entries = [e for e in entries if not alerts.matches(e.get("labels", {}), heartbeats)]
    before = [e for e in entries if e["received_at"] < run["started_at"]]
    after = [e for e in entries if e["received_at"] >= run["started_at"]]
    fired = timeline.new_firings(after, alerts.firing_fingerprints(before))
    latest = timeline.latest_entries(after, fired)
    tolerated = set(scenario.tolerated_alerts)

    def role(name: str) -> str:
        return "expected" if name in scenario.expected_alerts else "tolerated" if name in tolerated else "unexpected"

    lines = [_line(entry, role(entry["alertname"]), run, latest[fp],
                   alerts.matches(entry.get("labels", {}), slow_to_resolve))
             for fp, entry in fired.items()]
    seen = {line["alertname"] for line in lines}
    lines += [_waiting(name, scenario, run, now) for name in scenario.expected_alerts if name not in seen]
    lines.sort(key=lambda line: (ROLES.index(line["role"]), line["fired_after_start"] is None,
                                 line["fired_after_start"] or 0.0))
    return {"scenario": scenario.name, "title": scenario.title, "started_at": run["started_at"],
            "stopped_at": run["stopped_at"], "active": run["stopped_at"] is None, "lines": lines,
            "slow_burn": slow_burn.explanation() if slow_burn.has_slo_alerts(scenario) else None,
            "dead_mans_switch": scenario.dead_mans_switch}
