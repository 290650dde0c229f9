"""The drill's bookkeeping over inbox entries: new firings, carried-over series, resolution, verdicts, reports."""
import json

from loadgen import report, timeline
from loadgen.catalog import load_catalog
from loadgen.config import Urls
from loadgen.drill import DrillSettings

T0 = 1000.0


def entry(fingerprint, status, at, name="ShopOrdersDropped", **labels):
    """One inbox alert entry as GET /api/alerts returns it."""
    return {"fingerprint": fingerprint, "status": status, "received_at": at, "alertname": name,
            "labels": dict(labels, alertname=name)}


def test_carried_over_series_is_not_credited_until_it_resolves_and_fires_again():
    entries = [entry("old", "firing", T0 + 1, "ShopCheckoutBudgetBurn"),   # repeated in a group notification
               entry("new", "firing", T0 + 5),
               entry("new", "firing", T0 + 7),                            # repeat: first one counts
               entry("old", "resolved", T0 + 9, "ShopCheckoutBudgetBurn"),
               entry("old", "firing", T0 + 12, "ShopCheckoutBudgetBurn")]  # fires again: now it is new
    firings = timeline.new_firings(entries, carried={"old"})
    assert {fp: e["received_at"] for fp, e in firings.items()} == {"new": T0 + 5, "old": T0 + 12}
    detected = timeline.detection_times(firings, ["ShopOrdersDropped", "ShopMemoryGrowth"], T0)
    assert detected == {"ShopOrdersDropped": 5.0, "ShopMemoryGrowth": None}


def test_resolution_needs_the_latest_entry_of_every_series_to_be_resolved():
    firings = {"a": entry("a", "firing", T0), "b": entry("b", "firing", T0, severity="warning")}
    entries = [entry("a", "firing", T0), entry("b", "firing", T0), entry("a", "resolved", T0 + 30),
               entry("b", "resolved", T0 + 20), entry("b", "firing", T0 + 25)]
    per_series = timeline.resolution_times(entries, {"a", "b"}, cleared_at=T0 + 10)
    assert per_series == {"a": 20.0, "b": None}
    assert timeline.by_name(per_series, firings) == {"ShopOrdersDropped": None}
    entries.append(entry("b", "resolved", T0 + 40))
    per_series = timeline.resolution_times(entries, {"a", "b"}, cleared_at=T0 + 10)
    assert timeline.by_name(per_series, firings) == {"ShopOrdersDropped": 30.0}


def drilled(detected, resolved, unexpected=()):
    """A judged result for checkout-silent-failure."""
    result = report.empty_result(load_catalog()["checkout-silent-failure"])
    result.update(triggered_at=T0, cleared_at=T0 + 40, detected=detected, resolved=resolved,
                  unexpected_alerts=list(unexpected), baseline_quiet=True)
    return result


def test_verdicts_fail_on_missed_detection_or_resolution_and_only_strictly_on_unexpected_alerts():
    assert report.judge(drilled({"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": 12.0}))["passed"]
    missed = report.judge(drilled({"ShopOrdersDropped": None}, {}))
    assert not missed["passed"] and "Not detected within 240 s: ShopOrdersDropped." in missed["problems"]
    stuck = report.judge(drilled({"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": None}))
    assert not stuck["passed"] and "No resolved notification" in stuck["problems"][0]
    noisy = drilled({"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": 12.0}, ["ShopTargetDown"])
    assert report.judge(dict(noisy, problems=[]))["passed"]
    assert not report.judge(dict(noisy, problems=[]), strict=True)["passed"]


def test_reports_are_written_as_json_and_markdown(tmp_path):
    results = [report.judge(drilled({"ShopOrdersDropped": 35.0}, {"ShopOrdersDropped": 12.0})),
               report.judge(drilled({"ShopOrdersDropped": None}, {}))]
    built = report.build_report(results, Urls(fault_token="secret"), T0, DrillSettings())
    report.write(built, "json", str(tmp_path / "out" / "drill.json"))
    report.write(built, "md", str(tmp_path / "out" / "drill.md"))
    loaded = json.loads((tmp_path / "out" / "drill.json").read_text())
    assert loaded["passed"] is False and [s["passed"] for s in loaded["scenarios"]] == [True, False]
    assert "secret" not in (tmp_path / "out" / "drill.json").read_text()
    markdown = (tmp_path / "out" / "drill.md").read_text()
    assert "| checkout-silent-failure | ShopOrdersDropped | 35 s | 12 s | 12 s | none | PASS |" in markdown
    assert "Result: **FAILED**" in markdown
    assert "SOME SCENARIOS FAILED" in report.table(built)


def test_a_dead_mans_switch_scenario_is_judged_and_reported_by_the_heartbeat():
    """alerting-pipeline-broken expects no alert: the inbox's late heartbeat is what must show, and clear."""
    from loadgen.catalog import PIPELINE_BROKEN
    result = report.empty_result(load_catalog()["alerting-pipeline-broken"])
    assert result["detected"] == {PIPELINE_BROKEN: None} and result["dead_mans_switch"] is True
    missed = report.judge(dict(result, problems=[], triggered_at=T0, cleared_at=T0 + 120))
    assert "Not detected within 120 s: alerting pipeline broken." in missed["problems"]
    shown = report.judge(dict(result, problems=[], detected={PIPELINE_BROKEN: 75.0},
                              resolved={PIPELINE_BROKEN: 4.0}))
    assert shown["passed"]
    built = report.build_report([shown], Urls(), T0, DrillSettings())
    assert "| alerting-pipeline-broken | alerting pipeline broken | 75 s | 4 s | 4 s | none | PASS |" in \
        report.markdown(built)
