"""The drill's results: judging each scenario, and the table, JSON and Markdown reports (HTML: report_html.py)."""
import datetime
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loadgen import trace_examples
from loadgen.catalog import Scenario
from loadgen.config import Urls

if TYPE_CHECKING:  # loadgen.drill imports this module
    from loadgen.drill import DrillSettings

REPORT_VERSION = 1


def empty_result(scenario: Scenario) -> dict[str, Any]:
    """A scenario's result before anything happened."""
    return {"scenario": scenario.name, "title": scenario.title,
            "expected_alerts": list(scenario.expected_alerts), "tolerated_alerts": list(scenario.tolerated_alerts),
            "expected_signals": list(scenario.expected_signals), "dead_mans_switch": scenario.dead_mans_switch,
            "detect_within_seconds": scenario.detect_within_seconds,
            "resolve_within_seconds": scenario.resolve_within_seconds,
            "dashboard": {"uid": scenario.dashboard_uid, "panel": scenario.dashboard_panel},
            "runbook": scenario.runbook, "baseline_quiet": None, "baseline_active": [], "baseline_lingering": [],
            "triggered_at": None, "cleared_at": None, "detected": {name: None for name in scenario.expected_signals},
            "resolved": {}, "fired": [], "late_alerts": [], "not_awaited": [], "unexpected_alerts": [], "problems": [],
            "example_trace": None, "passed": False}


def judge(result: dict[str, Any], strict: bool = False) -> dict[str, Any]:
    """Set `passed` and add a sentence for every reason a scenario failed."""
    problems = result["problems"]
    missed = [name for name, seconds in result["detected"].items() if seconds is None]
    if missed and result["triggered_at"] is not None and result["cleared_at"] is not None:
        problems.append(f"Not detected within {result['detect_within_seconds']} s: {', '.join(missed)}.")
    unresolved = [name for name, seconds in result["resolved"].items() if seconds is None]
    if unresolved:
        problems.append(f"No resolved notification within {result['resolve_within_seconds']} s of the clear: "
                        f"{', '.join(unresolved)}.")
    if strict and result["unexpected_alerts"]:
        problems.append(f"Unexpected alerts fired: {', '.join(result['unexpected_alerts'])}.")
    result["passed"] = not problems
    return result


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _per_alert(mapping: Mapping[str, float | None]) -> str:
    return ", ".join(f"{name} {_seconds(seconds)}" for name, seconds in mapping.items()) or "-"


def one_line(result: Mapping[str, Any]) -> str:
    """A one-line verdict for the log."""
    verdict = "PASS" if result["passed"] else "FAIL"
    line = f"{verdict}: detected {_per_alert(result['detected'])}; resolved {_per_alert(result['resolved'])}"
    if result["unexpected_alerts"]:
        line += f"; unexpected {', '.join(result['unexpected_alerts'])}"
    if result["problems"]:
        line += " -- " + " ".join(result["problems"])
    return line


def build_report(results: Sequence[Mapping[str, Any]], urls: Urls, started_at: float,
                 settings: "DrillSettings") -> dict[str, Any]:
    """The whole drill as a JSON-ready dict."""
    finished_at = datetime.datetime.now(datetime.UTC)
    started = datetime.datetime.fromtimestamp(started_at, datetime.UTC)
    return {"version": REPORT_VERSION, "started_at": started.isoformat(timespec="seconds"),
            "finished_at": finished_at.isoformat(timespec="seconds"),
            "duration_seconds": round((finished_at - started).total_seconds(), 1),
            "passed": bool(results) and all(r["passed"] for r in results),
            "strict": settings.strict,
            "stack": {"shop": urls.shop, "payments": urls.payments, "inbox": urls.inbox,
                      "alertmanager": urls.alertmanager, "prometheus": urls.prometheus, "loadgen": urls.loadgen,
                      "zipkin": urls.zipkin},
            "scenarios": results}


ROW_HEADERS = ("scenario", "expected", "time to detect", "time to resolve", "all clear", "unexpected", "result")


def _all_clear(resolved: Mapping[str, float | None]) -> str:
    """Seconds from the clear until every awaited series had resolved ("never" if one did not)."""
    if any(seconds is None for seconds in resolved.values()):
        return "never"
    return _seconds(max(resolved.values())) if resolved else "-"


def rows(report: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """One row of strings per scenario (shared by the terminal table and Markdown)."""
    for r in report["scenarios"]:
        expected = r.get("expected_signals", r["expected_alerts"])  # reports of version 1 lack the signals
        yield (r["scenario"], ", ".join(expected), ", ".join(_seconds(r["detected"].get(a)) for a in expected),
               ", ".join(_seconds(r["resolved"].get(a)) for a in expected), _all_clear(r["resolved"]),
               ", ".join(r["unexpected_alerts"]) or "none", "PASS" if r["passed"] else "FAIL")


def table(report: Mapping[str, Any]) -> str:
    """A plain-text table for a terminal."""
    body = [ROW_HEADERS] + list(rows(report))
    widths = [max(len(row[i]) for row in body) for i in range(len(ROW_HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in body]
    lines.insert(1, "  ".join("-" * width for width in widths))
    count = len(report["scenarios"])
    drilled = "the one scenario drilled passed" if count == 1 else f"all {count} scenarios drilled passed"
    verdict = drilled if report["passed"] else "SOME SCENARIOS FAILED"
    lines.append(f"\nDrill: {verdict} ({report['duration_seconds']:.0f} s).")
    return "\n".join(lines)


def markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown: a summary table, then the details of each scenario."""
    escape = lambda text: text.replace("|", "\\|")  # noqa: E731 - a one-off cell escaper
    out = [f"# Alerting drill, {report['started_at']}", "",
           f"Result: **{'passed' if report['passed'] else 'FAILED'}** "
           f"({len(report['scenarios'])} scenarios, {report['duration_seconds']:.0f} s).", "",
           "| " + " | ".join(ROW_HEADERS) + " |", "|" + "---|" * len(ROW_HEADERS)]
    out += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows(report)]
    for r in report["scenarios"]:
        out += ["", f"## {r['scenario']}: {r['title']}", "",
                f"- Dashboard `{r['dashboard']['uid']}`, panel \"{r['dashboard']['panel']}\"; "
                f"runbook `#{r['runbook']}`.",
                f"- Baseline: {'quiet' if r['baseline_quiet'] else 'not quiet: ' + ', '.join(r['baseline_active'])}.",
                f"- Alert series that fired: {', '.join(r['fired']) or 'none'}."]
        if r["baseline_lingering"]:
            out.append(f"- Slow-burn series still firing from before: {', '.join(r['baseline_lingering'])}.")
        if r["not_awaited"]:
            out.append(f"- Slow to resolve by design (not awaited): {', '.join(r['not_awaited'])}.")
        if r["late_alerts"]:
            out.append(f"- First notified after the clear: {', '.join(r['late_alerts'])}.")
        out.append(f"- Example trace: {trace_examples.describe(r.get('example_trace'))}")
        out += [f"- Problem: {problem}" for problem in r["problems"]]
    return "\n".join(out) + "\n"


def write(report: Mapping[str, Any], kind: str, path: str) -> None:
    """Write the report as `kind` ("json", "md" or "html") to path, atomically."""
    if kind not in ("json", "md", "html"):
        raise ValueError(f"A report is written as json, md or html, not {kind!r}.")
    if kind == "html":  # plots: matplotlib is imported only when one is drawn
        from loadgen import report_html
        text = report_html.render(report)
    else:
        text = json.dumps(report, indent=2) + "\n" if kind == "json" else markdown(report)
    write_text(text, path)


def write_text(text: str, path: str) -> None:
    """Write text to path atomically: readers see the old file or the whole new one."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, path)
