"""Part 3, detection: a quiet baseline with no false alert, then the drill, scenario by scenario,
with each expected alert's time to detect and to resolve beside its floor and (for SLO burn-rate
alerts) the SRE-workbook prediction at the error ratio the fault really caused.

Runs on a fast native stack (1 s scrape and evaluation, short Alertmanager
timers; the rule files are the ones compose uses), like `make drill`.
"""
import json
import os
import subprocess
import sys
import time

import requests

from bench import alerting_config, goals
from bench.scratch import in_scratch
from bench.stats import rounded
from launcher import hold_downs
from launcher.stack import REPO, Stack
from loadgen.catalog import load_heartbeats
from processes.deathsig import die_with_parent

DRILL_TIMEOUT_SECONDS = 3 * 3600


def prometheus_query(stack, query, at=None):
    """An instant query's result list (at unix time `at`, default now)."""
    params = {"query": query}
    if at is not None:
        params["time"] = f"{at:.3f}"
    body = requests.get(stack.url("prometheus") + "/api/v1/query", params=params, timeout=10).json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus rejected the query {query!r}: {body.get('error')}")
    return body["data"]["result"]


def quiet_baseline(stack, minutes, log):
    """Baseline traffic for `minutes`; every alert that fired (Prometheus) or was notified (inbox)."""
    started = time.time()
    log(f"  quiet baseline: {minutes:g} min of baseline traffic, expecting no alert")
    time.sleep(minutes * 60)  # the measuring window itself, not a wait for a condition
    window = f"{int(time.time() - started)}s"
    # The always-firing Watchdog (the dead man's switch, the catalog's drill.heartbeats) is no false alert.
    beats = "|".join(sorted(entry["alertname"].pattern for entry in load_heartbeats() if "alertname" in entry))
    others = f', alertname!~"{beats}"' if beats else ""
    firing = prometheus_query(stack, f'max_over_time(ALERTS{{alertstate="firing"{others}}}[{window}])')
    pending = prometheus_query(stack, f'max_over_time(ALERTS{{alertstate="pending"{others}}}[{window}])')
    inbox = requests.get(stack.url("inbox") + "/api/alerts", params={"since": started, "limit": 1000},
                         timeout=10).json()["alerts"]
    return {"minutes": minutes, "firing": sorted({r["metric"]["alertname"] for r in firing}),
            "pending_only": sorted({r["metric"]["alertname"] for r in pending} -
                                   {r["metric"]["alertname"] for r in firing}),
            "notifications": sorted({a["alertname"] for a in inbox}),
            "no_false_alert": not firing and not inbox}


def run_drill(stack, workdir, scenarios, log):
    """`python -m loadgen drill` against the stack (as `make drill` does); return its JSON report."""
    report = os.path.join(workdir, "drill.json")
    command = [sys.executable, "-m", "loadgen", "drill", *scenarios, "--report-json", report,
               "--report-md", os.path.join(workdir, "drill.md"), "--report-html", os.path.join(workdir, "drill.html")]
    log(f"  drill: {', '.join(scenarios) or 'every scenario of the catalog'} (log in {workdir}/drill.log)")
    deadline = time.monotonic() + DRILL_TIMEOUT_SECONDS

    def in_time():
        if time.monotonic() > deadline:
            raise TimeoutError(f"The drill did not end within {DRILL_TIMEOUT_SECONDS} s; see {workdir}/drill.log.")
    with open(os.path.join(workdir, "drill.log"), "wb") as out:
        drill = subprocess.Popen(command, env=stack.service_env(), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                 preexec_fn=die_with_parent())
        try:  # shop-down asks for the shop to be stopped and started again: watch the control files meanwhile
            hold_downs.wait_watching(drill, stack, log, between=in_time)
        finally:
            if drill.poll() is None:
                drill.kill()
                drill.wait(timeout=10)
    with open(report) as source:
        return json.load(source)


def measured_error_ratio(stack, slo, start, end):
    """The SLI error ratio over [start, end], from the raw counters at the two instants."""
    def total(selector, at):
        result = prometheus_query(stack, f"sum({selector})", at)
        return float(result[0]["value"][1]) if result else 0.0
    events = total(slo.total, end) - total(slo.total, start)
    if events <= 0:
        return None
    if slo.errors:
        return (total(slo.errors, end) - total(slo.errors, start)) / events
    return 1 - (total(slo.good, end) - total(slo.good, start)) / events


def fired_windows(stack, alert, start, end):
    """The `window` labels of the alert's rules that fired in Prometheus during [start, end]."""
    query = f'max_over_time(ALERTS{{alertname="{alert}", alertstate="firing"}}[{max(1, int(end - start))}s])'
    windows = {r["metric"].get("window", "") for r in prometheus_query(stack, query, end)}
    return sorted(windows, key=lambda w: alerting_config.parse_duration(w) if w else 0)


def judge_scenario(stack, config, result, stack_started_at):
    """One row per expected alert: measured times, floors, SLO prediction and the verdict."""
    rows = []
    for alert in result["expected_alerts"]:
        detected, resolved = result["detected"].get(alert), result["resolved"].get(alert)
        fire_floor, resolve_floor = alerting_config.floors(config, alert)
        row = {"scenario": result["scenario"], "alert": alert, "detect_seconds": detected,
               "resolve_seconds": resolved, "detect_floor_seconds": fire_floor,
               "resolve_floor_seconds": resolve_floor, "drill_passed": result["passed"]}
        slo, profile = alerting_config.slo_for_alert(alert)
        if slo and result["triggered_at"] and result["cleared_at"]:
            ratio = measured_error_ratio(stack, slo, result["triggered_at"], result["cleared_at"])
            history = result["triggered_at"] - stack_started_at
            predicted = alerting_config.burn_prediction(slo, profile, ratio, history)
            row.update(error_ratio=rounded(ratio, 4), predicted_detect_seconds=rounded(predicted, 1),
                       windows_fired=fired_windows(stack, alert, result["triggered_at"], result["cleared_at"]))
        row["tickets_only"] = detected is not None and alert not in result["resolved"]
        row["ok"] = goals.meets_detection_goals(detected, resolved, row["tickets_only"])
        rows.append(row)
    return rows


@in_scratch("bench-detection-")
def run(quiet_minutes=10.0, scenarios=(), log=print, workdir=None):
    """Quiet baseline, then the drill, on one fast stack."""
    with Stack(os.path.join(workdir, "stack"), fast=True, hold_downs=True) as stack:
        stack_started_at = time.time()
        config = alerting_config.load(stack.prometheus_config, stack.alertmanager_config)
        quiet = quiet_baseline(stack, quiet_minutes, log) if quiet_minutes > 0 else None
        started = time.monotonic()
        report = run_drill(stack, workdir, scenarios, log)
        rows = [row for result in report["scenarios"]
                for row in judge_scenario(stack, config, result, stack_started_at)]
    unexpected = {r["scenario"]: r["unexpected_alerts"] for r in report["scenarios"] if r["unexpected_alerts"]}
    goals = {"every_scenario_within_90_s_and_resolved_within_120_s": bool(rows) and all(r["ok"] for r in rows),
             "no_false_alert_in_quiet_baseline": quiet["no_false_alert"] if quiet else None}
    return {"alerts": rows, "quiet_baseline": quiet, "unexpected_alerts": unexpected, "goals": goals,
            "drill_passed": report["passed"],
            "settings": {"scrape_seconds": config["scrape"], "evaluation_seconds": config["evaluation"],
                         "group_timers": config["timers"]["critical"], "drill_minutes": rounded(
                             (time.monotonic() - started) / 60, 1), "quiet_minutes": quiet_minutes}}
