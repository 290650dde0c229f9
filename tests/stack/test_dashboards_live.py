"""Every dashboard query returns data from the live native stack (Prometheus 2.42, baseline traffic).

Grafana cannot run here, so grafana/verify.py sends each panel, annotation and
variable query, with Grafana's variables substituted the way Grafana would,
to the stack's Prometheus. Queries that only have data while a fault runs are
listed in FAULT_ONLY and checked while the payments `errors` fault is on.
"""
import copy

import pytest
import requests
import yaml

from grafana import checks, verify
from processes.waiting import poll_until
from tests.helpers.paths import REPO

DASHBOARDS = {d["uid"]: d for d in verify.load_dashboards()}

# (kind, name) of queries that are empty until a fault runs, and why.
FAULT_ONLY = {
    ("annotation", "Fault scenarios"): "loadgen_scenario_active is 1 only while a scenario runs",
    ("annotation", "Fault knobs"): "shop_fault_active / payments_fault_active are 1 only while a knob is on",
}
SCENARIO = "payments-errors"  # its knob: payments `errors`; the catalog names the panel that shows it
# The error-budget rules are evaluated once a minute, so a fresh stack needs up to ~60 s for those panels.
TIMEOUT = 90


def fault_only(query):
    """Whether a query only has data while a fault runs."""
    return (query.kind, query.name) in FAULT_ONLY


def wait_for_data(prometheus, dashboards, only, description, timeout=TIMEOUT):
    """Poll until every selected query returns data; fail listing the queries that never did."""
    time_interval = verify.datasource_time_interval()
    empty = []

    def all_have_data():
        empty[:] = verify.empty_queries(prometheus, dashboards, time_interval, only=only)
        return not empty
    try:
        poll_until(all_have_data, description, timeout, interval=1)
    except AssertionError:
        pytest.fail(f"Timed out after {timeout} s waiting for {description}; still empty:\n" + "\n".join(empty))


def test_fault_only_table_names_real_queries():
    names = {(q.kind, q.name) for d in DASHBOARDS.values() for q in checks.queries(d)}
    assert set(FAULT_ONLY) <= names


def test_every_query_returns_data_with_baseline_traffic(native_stack):
    wait_for_data(native_stack.url("prometheus"), DASHBOARDS.values(), lambda q: not fault_only(q),
                  "every dashboard query to return data")


def test_fault_panels_have_data_while_a_fault_runs(native_stack):
    scenario, = [s for s in yaml.safe_load((REPO / "loadgen" / "scenarios.yaml").read_text())["scenarios"]
                 if s["name"] == SCENARIO]
    fault = f"{native_stack.url(scenario['change']['service'])}/admin/faults/{scenario['change']['knob']}"
    auth = {"Authorization": f"Bearer {native_stack.fault_token}"}
    prometheus = native_stack.url("prometheus")
    board = DASHBOARDS[scenario["dashboard"]["uid"]]
    story, = [p for p in checks.panels(board) if p["title"] == scenario["dashboard"]["panel"]]
    response = requests.put(fault, json={"ratio": 0.5, "duration_seconds": 60}, headers=auth, timeout=5)
    assert response.ok, f"Switching the fault on answered {response.status_code}: {response.text}"
    try:
        wait_for_data(prometheus, DASHBOARDS.values(), fault_only, "the fault annotations to show the fault")
        values = verify.grafana_values(board, verify.datasource_time_interval())

        story_queries = [checks.Query(board["uid"], "panel", story["title"], t["expr"]) for t in story["targets"]]

        def story_moves():
            return any(float(series["value"][1]) > 0 for query in story_queries
                       for series in verify.run(prometheus, query, values, board))
        poll_until(story_moves, f"the panel {story['title']!r} to show the {SCENARIO} fault", TIMEOUT)
    finally:
        requests.delete(fault, headers=auth, timeout=5)


def broken_dashboard():
    """A dashboard whose panels query an unknown metric, a known one with no matching series, and bad PromQL."""
    dashboard = copy.deepcopy(DASHBOARDS["shop-overview"])
    dashboard["annotations"] = {"list": []}
    dashboard["panels"] = [{"type": "stat", "title": title, "targets": [{"refId": "A", "expr": expr}]}
                           for title, expr in (("Unknown", "rate(shop_no_such_metric_total[$__rate_interval])"),
                                               ("Empty", 'shop_http_requests_in_progress{job="no-such-job"}'),
                                               ("Invalid", "sum by (route (up)"))]
    return dashboard


def test_live_check_fails_on_broken_panels(native_stack):
    with pytest.raises(pytest.fail.Exception) as failure:
        wait_for_data(native_stack.url("prometheus"), [broken_dashboard()], lambda q: q.kind == "panel",
                      "the broken panels to return data", timeout=2)
    message = str(failure.value)
    assert "'Unknown': rate(shop_no_such_metric_total[$__rate_interval]) returned no data." in message
    assert """'Empty': shop_http_requests_in_progress{job="no-such-job"} returned no data.""" in message
    assert "'Invalid': sum by (route (up) failed: Prometheus rejected" in message
