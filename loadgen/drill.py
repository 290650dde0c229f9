"""The drill: prove, scenario by scenario, that every fault is detected and resolves.

Per scenario: wait for a quiet baseline (nothing firing or pending in
Prometheus or Alertmanager, nothing unresolved in the inbox), trigger the
scenario (through the running load generator when one answers), wait with a
deadline until each expected alert has reached the inbox, clear the scenario,
and wait with a deadline until every alert series that fired during the
scenario has a resolved notification. Alerts nobody expected are recorded.

Series matching the catalog's `drill.slow_to_resolve` matchers (slow-burn SLO
tickets) outlive a short fault by design: they are recorded, not awaited, and
do not make a baseline noisy. Any series still firing at a trigger is "carried
over" and never credited to the new scenario. Series matching `drill.heartbeats`
(the always-firing Watchdog) are ignored wherever the drill looks.

A scenario that breaks the pipeline itself (`dead_mans_switch: true`) can get
no alert through; what must tell us is the inbox's heartbeat: detected when
the inbox calls it late ("Alerting pipeline broken"), resolved when a new
heartbeat arrived after the clear. A baseline is quiet only while it beats.

At each clear the drill names an example trace whose spans show the cause, found in Zipkin over the
fault window (loadgen/trace_examples.py); without a trace backend the report says so.
"""
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from loadgen import alerts as alert_api
from loadgen import report as report_module
from loadgen import timeline, trace_examples
from loadgen.catalog import (
    PIPELINE_BROKEN,
    Catalog,
    Scenario,
    load_catalog,
    load_heartbeats,
    load_slow_to_resolve,
    select,
)
from loadgen.config import Urls, browser_url
from loadgen.fault_api import ControlError, FaultApi
from loadgen.metrics import LoadgenMetrics
from loadgen.process_control import ProcessControl
from loadgen.remote import LoadgenUnavailable, RemoteLoadgen
from loadgen.scenario_manager import ScenarioError, ScenarioManager

# Inbox entries older than this before the drill started do not count as "still firing".
INBOX_LOOKBACK_SECONDS = 3600
CONTROL_ERRORS = (ScenarioError, LoadgenUnavailable, ControlError)


class ScenarioController(Protocol):
    """What the drill and the CLI start and stop scenarios through: a RemoteLoadgen or a ScenarioManager."""

    def start(self, name: str, duration_seconds: float | None = None) -> Mapping[str, Any] | None:
        """Start a scenario; return its state."""

    def stop(self, name: str) -> object:
        """Stop a scenario."""

    def stop_all(self) -> list[str]:
        """Stop every scenario and switch every fault off; return problems as sentences."""


@dataclass
class DrillSettings:
    """Knobs of the drill itself."""
    baseline_timeout_seconds: float = 120.0
    poll_seconds: float = 1.0
    strict: bool = False           # also fail a scenario on unexpected alerts
    # Trigger for at least this long past the detection deadline, so a scenario never expires early.
    duration_margin_seconds: int = 60


def controller_for(urls: Urls, catalog: Catalog,
                   log: Callable[[str], object] = print) -> RemoteLoadgen | ScenarioManager:
    """The running load generator's API when it answers, else direct fault control (no traffic-spike)."""
    remote = RemoteLoadgen(urls.loadgen)
    if remote.reachable():
        return remote
    log(f"No load generator answers at {urls.loadgen}; switching faults directly "
        "(scenarios will not be shaded on dashboards, traffic-spike cannot run).")
    # STACK_CONTROL_DIR (the launcher's `export` lines, or the drill's environment) lets shop-down stop the shop.
    return ScenarioManager(catalog, FaultApi(urls), None, LoadgenMetrics(scenarios=catalog),
                           processes=ProcessControl.from_env())


class Drill:
    """Runs scenarios one after another against one stack."""

    def __init__(self, urls: Urls, controller: ScenarioController, settings: DrillSettings | None = None,
                 log: Callable[[str], object] = print,
                 slow_to_resolve: Iterable[Mapping[str, re.Pattern[str]]] = (),
                 heartbeats: Iterable[Mapping[str, re.Pattern[str]]] = ()) -> None:
        self.controller, self.log = controller, log
        self.settings = settings or DrillSettings()
        self.urls = urls
        self.sources = alert_api.AlertSources(urls)
        self.slow = list(slow_to_resolve)
        self.heartbeats = list(heartbeats)
        self.started_at = time.time()

    def _slow(self, alert: Mapping[str, Any]) -> bool:
        return alert_api.matches(alert.get("labels", {}), self.slow)

    def _is_heartbeat(self, alert: Mapping[str, Any]) -> bool:
        return alert_api.matches(alert.get("labels", {}), self.heartbeats)

    def _inbox(self, since: float) -> list[dict[str, Any]] | None:
        """Inbox entries since `since`, or None while the inbox does not answer (polls retry)."""
        try:
            return self.sources.inbox_alerts(since=since)
        except alert_api.AlertSourceError as error:
            self.log(f"  {error}")
            return None

    def active_alerts(self) -> tuple[list[str], list[str]]:
        """(noisy, lingering): descriptions of active series, split by whether they are slow to resolve."""
        active = [(a, "" if a["state"] == "firing" else " [pending]")
                  for a in self.sources.prometheus_active() + self.sources.alertmanager_active()
                  if not self._is_heartbeat(a)]
        open_series = alert_api.firing_fingerprints(self.sources.inbox_alerts(since=self.started_at))
        active += [(a, " [inbox: not resolved yet]") for a in open_series.values()]
        noisy = sorted({alert_api.describe(a) + note for a, note in active if not self._slow(a)})
        heartbeat = self.sources.inbox_heartbeat()
        if heartbeat.get("status") != "ok":
            noisy.append(f"the alerting pipeline's heartbeat [{heartbeat.get('status')}]")
        lingering = sorted({alert_api.describe(a) for a, _ in active if self._slow(a)})
        return noisy, lingering

    def wait_for_quiet(self) -> tuple[bool, list[str], list[str]]:
        """(quiet, noisy, lingering) once nothing but slow-to-resolve series is active, or at the deadline."""
        deadline = time.monotonic() + self.settings.baseline_timeout_seconds
        while True:
            try:
                noisy, lingering = self.active_alerts()
            except alert_api.AlertSourceError as error:
                noisy, lingering = [str(error)], []
            if not noisy or time.monotonic() >= deadline:
                return not noisy, noisy, lingering
            time.sleep(self.settings.poll_seconds)

    def carried_over(self) -> set[str]:
        """Fingerprints firing right now: the inbox's latest state plus Alertmanager's (inhibited too)."""
        try:
            carried = set(alert_api.firing_fingerprints(
                self.sources.inbox_alerts(since=self.started_at - INBOX_LOOKBACK_SECONDS)))
            return carried | {a["fingerprint"] for a in self.sources.alertmanager_active(include_inhibited=True)
                              if not self._is_heartbeat(a)}
        except alert_api.AlertSourceError as error:
            self.log(f"  {error}")
            return set()

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        """Drill one scenario; return its result (a JSON-ready dict)."""
        result = report_module.empty_result(scenario)
        quiet, noisy, lingering = self.wait_for_quiet()
        result.update(baseline_quiet=quiet, baseline_active=noisy, baseline_lingering=lingering)
        if not quiet:
            self.log(f"  baseline not quiet after {self.settings.baseline_timeout_seconds:.0f} s: {', '.join(noisy)}")
        carried = self.carried_over()
        duration = max(scenario.default_duration_seconds,
                       scenario.detect_within_seconds + self.settings.duration_margin_seconds)
        result["triggered_at"] = triggered_at = time.time()
        try:
            self.controller.start(scenario.name, duration)
        except CONTROL_ERRORS as error:
            result["problems"].append(f"The scenario could not be started: {error}")
            return report_module.judge(result, self.settings.strict)
        try:
            firings, late_at = self._wait_for_detection(scenario, triggered_at, carried)
        finally:
            result["cleared_at"] = cleared_at = time.time()
            try:
                self.controller.stop(scenario.name)
            except CONTROL_ERRORS as error:
                result["problems"].append(f"The scenario could not be stopped (it expires by itself): {error}")
        result["detected"] = timeline.detection_times(firings, scenario.expected_alerts, triggered_at)
        if scenario.dead_mans_switch:
            result["detected"][PIPELINE_BROKEN] = None if late_at is None else round(late_at - triggered_at, 1)
        # Now, not after the resolution wait: Zipkin keeps only its latest spans (MEM_MAX_SPANS, minutes of traffic).
        result["example_trace"] = trace_examples.example_trace(
            self.urls.zipkin, browser_url(self.urls.zipkin, trace_examples.ZIPKIN_BROWSER_PORT), scenario,
            triggered_at, cleared_at)
        self.log(f"  example trace: {trace_examples.describe(result['example_trace'])}")
        self.log(f"  cleared after {cleared_at - triggered_at:.0f} s; waiting for resolved notifications")
        entries, awaited, per_series, beating_at = self._wait_for_resolution(scenario, triggered_at, cleared_at,
                                                                              carried)
        fired = timeline.new_firings(entries, carried)
        still_firing = alert_api.firing_fingerprints(entries)
        result["resolved"] = timeline.by_name(per_series, awaited)
        if scenario.dead_mans_switch:
            result["resolved"][PIPELINE_BROKEN] = None if beating_at is None else round(beating_at - cleared_at, 1)
        result["fired"] = sorted({alert_api.describe(e) for e in fired.values()})
        result["late_alerts"] = sorted({alert_api.describe(e) for fp, e in fired.items()
                                        if e["received_at"] > cleared_at and fp not in awaited})
        result["not_awaited"] = sorted({alert_api.describe(e) + (" (still firing)" if fp in still_firing else "")
                                        for fp, e in fired.items() if self._slow(e)})
        allowed = set(scenario.expected_alerts) | set(scenario.tolerated_alerts)
        result["unexpected_alerts"] = sorted({e["alertname"] for e in fired.values() if e["alertname"] not in allowed})
        return report_module.judge(result, self.settings.strict)

    def _heartbeat_state(self) -> dict[str, Any] | None:
        """The inbox's heartbeat state, or None while the inbox does not answer (polls retry)."""
        try:
            return self.sources.inbox_heartbeat()
        except alert_api.AlertSourceError as error:
            self.log(f"  {error}")
            return None

    def _wait_for_detection(self, scenario: Scenario, triggered_at: float,
                            carried: set[str]) -> tuple[dict[str, dict[str, Any]], float | None]:
        """(new firings, when the inbox first called the heartbeat late) once all expected signals are seen."""
        deadline = triggered_at + scenario.detect_within_seconds
        firings: dict[str, dict[str, Any]] = {}
        late_at = None
        while True:
            entries = self._inbox(triggered_at)
            if entries is not None:
                firings = timeline.new_firings(entries, carried)
            if scenario.dead_mans_switch and late_at is None \
                    and (self._heartbeat_state() or {}).get("status") == "late":
                late_at = time.time()
            seen = set(scenario.expected_alerts) <= {e["alertname"] for e in firings.values()}
            if seen and (late_at is not None or not scenario.dead_mans_switch) or time.time() >= deadline:
                return firings, late_at
            time.sleep(self.settings.poll_seconds)

    def _wait_for_resolution(
            self, scenario: Scenario, triggered_at: float, cleared_at: float, carried: set[str],
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], dict[str, float | None], float | None]:
        """Wait until every series that fired before the clear (and is not slow by design) has resolved, and
        for a dead man's switch scenario until a heartbeat arrived after the clear (when, the last value)."""
        deadline = cleared_at + scenario.resolve_within_seconds
        entries: list[dict[str, Any]] = []
        beating_at = None
        while True:
            if scenario.dead_mans_switch and beating_at is None:
                heartbeat = self._heartbeat_state() or {}
                if heartbeat.get("status") == "ok" and (heartbeat.get("last_seen") or 0) > cleared_at:
                    beating_at = heartbeat["last_seen"]
            entries = self._inbox(triggered_at) or entries
            awaited = {fp: e for fp, e in timeline.new_firings(entries, carried).items()
                       if e["received_at"] <= cleared_at and not self._slow(e)}
            per_series = timeline.resolution_times(entries, set(awaited), cleared_at)
            beating = beating_at is not None or not scenario.dead_mans_switch
            if all(seconds is not None for seconds in per_series.values()) and beating or time.time() >= deadline:
                return entries, awaited, per_series, beating_at
            time.sleep(self.settings.poll_seconds)


def run_drill(urls: Urls, scenarios: Iterable[str | Scenario] = (), report_paths: Mapping[str, str] | None = None,
              *, settings: DrillSettings | None = None, controller: ScenarioController | None = None,
              log: Callable[[str], object] = print, catalog: Catalog | None = None) -> dict[str, Any]:
    """Drill `scenarios` (names; empty = the whole catalog) against the stack at `urls`.

    `report_paths` maps "json", "md" and/or "html" to file paths. Returns the report
    dict; `report["passed"]` is False when a scenario was not detected or an
    alert never resolved. This is what `python -m loadgen drill` and the native
    launcher's `make drill` call.
    """
    catalog = catalog or load_catalog()
    chosen = select(catalog, [s if isinstance(s, str) else s.name for s in scenarios])
    controller = controller or controller_for(urls, catalog, log)
    drill = Drill(urls, controller, settings, log, load_slow_to_resolve(), load_heartbeats())
    results = []
    try:
        for scenario in chosen:
            log(f"{scenario.name}: {scenario.title} (expects {', '.join(scenario.expected_signals)})")
            result = drill.run_scenario(scenario)
            log(f"  {report_module.one_line(result)}")
            results.append(result)
    finally:
        problems = controller.stop_all()  # never leave a fault on, even after Ctrl-C
        for problem in problems or ():
            log(f"  warning: {problem}")
    report = report_module.build_report(results, urls, drill.started_at, drill.settings)
    log("")
    log(report_module.table(report))
    for kind, path in (report_paths or {}).items():
        try:
            report_module.write(report, kind, path)
        except Exception as error:  # noqa: BLE001 - only the HTML's plots can fail for outside reasons
            if kind != "html":
                raise
            log(f"The html report could not be written ({type(error).__name__}: {error}); the verdict stands.")
            continue
        log(f"Wrote the {kind} report to {path}.")
    return report
