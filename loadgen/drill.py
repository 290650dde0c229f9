"""The drill: prove, scenario by scenario, that every fault is detected and resolves.

Per scenario: wait for a quiet baseline (nothing firing or pending in
Prometheus or Alertmanager, nothing unresolved in the inbox), trigger the
scenario (through the running load generator when one answers), wait with a
deadline until each expected alert has reached the inbox, clear the scenario,
and wait with a deadline until every alert series that fired during the
scenario has a resolved notification. Alerts that fired without being expected
or tolerated are recorded. A baseline that does not get quiet in time is
recorded too; series still firing then are "carried over" and not credited to
the next scenario (slow-burn SLO tickets outlive a short fault by design).
"""
import time
from dataclasses import dataclass

from loadgen import alerts as alert_api
from loadgen import report as report_module
from loadgen import timeline
from loadgen.catalog import load_catalog, select
from loadgen.client import LoadgenUnavailable, RemoteLoadgen
from loadgen.control import ControlError, FaultApi
from loadgen.metrics import LoadgenMetrics
from loadgen.runtime import ScenarioError, ScenarioManager

# Inbox entries older than this before the drill started do not count as "still firing".
INBOX_LOOKBACK_SECONDS = 3600
CONTROL_ERRORS = (ScenarioError, LoadgenUnavailable, ControlError)


@dataclass
class DrillSettings:
    """Knobs of the drill itself."""
    baseline_timeout_seconds: float = 120.0
    poll_seconds: float = 1.0
    strict: bool = False           # also fail a scenario on unexpected alerts
    # Trigger for at least this long past the detection deadline, so a scenario never expires early.
    duration_margin_seconds: int = 60


def controller_for(urls, catalog, log=print):
    """The running load generator's API when it answers, else direct fault control (no traffic-spike)."""
    remote = RemoteLoadgen(urls.loadgen)
    if remote.reachable():
        return remote
    log(f"No load generator answers at {urls.loadgen}; switching faults directly "
        "(scenarios will not be shaded on dashboards, traffic-spike cannot run).")
    return ScenarioManager(catalog, FaultApi(urls), None, LoadgenMetrics(scenarios=catalog))


class Drill:
    """Runs scenarios one after another against one stack."""

    def __init__(self, urls, controller, settings=None, log=print, sources=None):
        self.urls, self.controller, self.log = urls, controller, log
        self.settings = settings or DrillSettings()
        self.sources = sources or alert_api.AlertSources(urls)
        self.started_at = time.time()

    def _sleep(self):
        time.sleep(self.settings.poll_seconds)

    def _inbox(self, since):
        """Inbox entries since `since`, or None while the inbox does not answer (polls retry)."""
        try:
            return self.sources.inbox_alerts(since=since)
        except alert_api.AlertSourceError as error:
            self.log(f"  {error}")
            return None

    def _inbox_since_start(self):
        return self.sources.inbox_alerts(since=self.started_at - INBOX_LOOKBACK_SECONDS)

    def active_alerts(self):
        """Descriptions of everything firing or pending anywhere in the pipeline, and the inbox's open series."""
        active = {alert_api.describe(a) + ("" if a["state"] == "firing" else " [pending]")
                  for a in self.sources.prometheus_active() + self.sources.alertmanager_active()}
        open_series = alert_api.firing_fingerprints(self.sources.inbox_alerts(since=self.started_at))
        active |= {alert_api.describe(a) + " [inbox: no resolved notification yet]" for a in open_series.values()}
        return sorted(active)

    def wait_for_quiet(self):
        """(True, []) once nothing is active; (False, what is active) at the deadline."""
        deadline = time.monotonic() + self.settings.baseline_timeout_seconds
        while True:
            try:
                active = self.active_alerts()
            except alert_api.AlertSourceError as error:
                active = [str(error)]
            if not active:
                return True, []
            if time.monotonic() >= deadline:
                return False, active
            self._sleep()

    def carried_over(self):
        """Fingerprints firing right now (inbox's latest state, plus Alertmanager's view)."""
        try:
            carried = set(alert_api.firing_fingerprints(self._inbox_since_start()))
            carried |= {a["fingerprint"] for a in self.sources.alertmanager_active() if a["fingerprint"]}
        except alert_api.AlertSourceError as error:
            self.log(f"  {error}")
            return set()
        return carried

    def run_scenario(self, scenario):
        """Drill one scenario; return its result (a JSON-ready dict)."""
        result = report_module.empty_result(scenario)
        quiet, active = self.wait_for_quiet()
        result.update(baseline_quiet=quiet, baseline_active=active)
        if not quiet:
            self.log(f"  baseline not quiet after {self.settings.baseline_timeout_seconds:.0f} s: {', '.join(active)}")
        carried = self.carried_over()
        duration = max(scenario.default_duration_seconds,
                       scenario.detect_within_seconds + self.settings.duration_margin_seconds)
        triggered_at = time.time()
        result["triggered_at"] = triggered_at
        try:
            self.controller.start(scenario.name, duration)
        except CONTROL_ERRORS as error:
            result["problems"].append(f"The scenario could not be started: {error}")
            return report_module.judge(result, self.settings.strict)
        try:
            firings = self._wait_for_detection(scenario, triggered_at, carried)
        finally:
            cleared_at = time.time()
            try:
                self.controller.stop(scenario.name)
            except CONTROL_ERRORS as error:
                result["problems"].append(f"The scenario could not be stopped (it expires by itself): {error}")
        result["cleared_at"] = cleared_at
        result["detected"] = timeline.detection_times(firings, scenario.expected_alerts, triggered_at)
        self.log(f"  cleared after {cleared_at - triggered_at:.0f} s; waiting for resolved notifications")
        must_resolve = dict(firings)
        entries, per_series = self._wait_for_resolution(scenario, triggered_at, cleared_at, carried, must_resolve)
        all_firings = timeline.new_firings(entries, carried)
        result["resolved"] = timeline.by_name(per_series, must_resolve)
        result["fired"] = sorted({alert_api.describe(entry) for entry in all_firings.values()})
        result["late_alerts"] = sorted({alert_api.describe(entry) for fp, entry in all_firings.items()
                                        if fp not in must_resolve})
        allowed = set(scenario.expected_alerts) | set(scenario.tolerated_alerts)
        result["unexpected_alerts"] = sorted({entry["alertname"] for entry in all_firings.values()
                                              if entry["alertname"] not in allowed})
        return report_module.judge(result, self.settings.strict)

    def _wait_for_detection(self, scenario, triggered_at, carried):
        deadline = triggered_at + scenario.detect_within_seconds
        firings = {}
        while True:
            entries = self._inbox(triggered_at)
            if entries is not None:
                firings = timeline.new_firings(entries, carried)
            seen = {entry["alertname"] for entry in firings.values()}
            if set(scenario.expected_alerts) <= seen or time.time() >= deadline:
                return firings
            self._sleep()

    def _wait_for_resolution(self, scenario, triggered_at, cleared_at, carried, must_resolve):
        deadline = cleared_at + scenario.resolve_within_seconds
        entries, per_series = [], {}
        while True:
            entries = self._inbox(triggered_at) or entries
            # Series first notified between our last look and the clear also had to resolve.
            for fingerprint, entry in timeline.new_firings(entries, carried).items():
                if entry["received_at"] <= cleared_at:
                    must_resolve.setdefault(fingerprint, entry)
            per_series = timeline.resolution_times(entries, set(must_resolve), cleared_at)
            if all(seconds is not None for seconds in per_series.values()) or time.time() >= deadline:
                return entries, per_series
            self._sleep()


def run_drill(urls, scenarios=(), report_paths=None, *, settings=None, controller=None, log=print, catalog=None):
    """Drill `scenarios` (names; empty = the whole catalog) against the stack at `urls`.

    `report_paths` maps "json" and/or "md" to file paths. Returns the report
    dict; `report["passed"]` is False when a scenario was not detected or an
    alert never resolved. This is what `python -m loadgen drill` and the native
    launcher's `make drill` call.
    """
    catalog = catalog or load_catalog()
    chosen = select(catalog, [s if isinstance(s, str) else s.name for s in scenarios])
    controller = controller or controller_for(urls, catalog, log)
    drill = Drill(urls, controller, settings, log)
    results = []
    try:
        for scenario in chosen:
            log(f"{scenario.name}: {scenario.title} (expects {', '.join(scenario.expected_alerts)})")
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
        report_module.write(report, kind, path)
        log(f"Wrote the {kind} report to {path}.")
    return report
