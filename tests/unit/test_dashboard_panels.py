"""The panel index that stands in for Grafana natively: complete, runnable, and linked correctly."""
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from app.common import dashboard_panels
from grafana import checks, generate, verify
from loadgen.catalog import load_catalog


def test_the_index_holds_every_dashboard_with_its_panels_queries():
    files = generate.render()
    models = {json.loads(text)["uid"]: json.loads(text) for text in files.values()}
    index = dashboard_panels.index()["dashboards"]
    assert sorted(index) == sorted(models)
    overview = index["shop-overview"]
    assert overview["title"] == models["shop-overview"]["title"]
    titled = [p["title"] for p in models["shop-overview"]["panels"] if p.get("targets")]
    assert [p["title"] for p in overview["panels"]] == titled


def test_every_scenario_panel_is_in_the_index():
    for scenario in load_catalog().values():
        queries = dashboard_panels.panel_queries(scenario.dashboard_uid, scenario.dashboard_panel)
        assert queries, f"{scenario.name}: panel {scenario.dashboard_panel!r} has no query"


def test_filled_queries_leave_no_grafana_variable():
    for uid, board in dashboard_panels.index()["dashboards"].items():
        for panel in board["panels"]:
            for expr, _ in dashboard_panels.panel_queries(uid, panel["title"], 600):
                assert "$" not in expr, (uid, panel["title"], expr)


@pytest.mark.parametrize(("expr", "seconds", "filled"), [
    # 5 s scrapes (the datasource's timeInterval): $__rate_interval is 4 x 5 s until the step passes 15 s
    ('rate(x{instance=~"$instance"}[$__rate_interval])', 600, 'rate(x{instance=~".*"}[20s])'),
    ("rate(x[${__rate_interval}])", 6 * 3600, "rate(x[27s])"),  # step ceil(21600 / 1000) = 22 s, + 5 s
    ("increase(x[$__range])", 600, "increase(x[600s])"),
    ("increase(x[[[__range]]])", 90, "increase(x[90s])"),
])
def test_variables_are_filled_as_grafana_fills_them(expr, seconds, filled):
    assert dashboard_panels.query("shop-overview", expr, seconds) == filled


def test_grafana_verify_fills_variables_the_same_way():
    board = json.loads(generate.render()["shop-overview.json"])
    values = verify.grafana_values(board, verify.datasource_time_interval())
    expr = 'rate(x{instance=~"$instance", route=~"$route"}[$__rate_interval])'
    assert dashboard_panels.query("shop-overview", expr, verify.range_seconds(board)) == checks.substitute(expr, values)


def test_a_variable_without_a_value_is_named():
    with pytest.raises(KeyError, match=r"uses \$nope"):
        dashboard_panels.query("shop-overview", "x{a=~\"$nope\"}")


def test_a_panel_opens_in_prometheus_with_each_query_as_a_graph():
    url = dashboard_panels.panel_graph_url("http://127.0.0.1:9090/", "shop-dependencies", "Payments call latency", 600)
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("127.0.0.1:9090", "/graph")
    params = parse_qs(parts.query)
    expected = dashboard_panels.panel_queries("shop-dependencies", "Payments call latency", 600)
    assert [params[f"g{n}.expr"][0] for n in range(len(expected))] == [expr for expr, _ in expected]
    assert params["g0.range_input"] == ["10m"] and params["g0.tab"] == ["0"]
    assert f"g{len(expected)}.expr" not in params


def test_unknown_dashboards_and_panels_are_named():
    with pytest.raises(dashboard_panels.UnknownPanel, match="No dashboard 'nope'; dashboards: shop-business"):
        dashboard_panels.panel("nope", "x")
    with pytest.raises(dashboard_panels.UnknownPanel, match="has no panel 'Nope'"):
        dashboard_panels.panel("shop-overview", "Nope")
    with pytest.raises(dashboard_panels.UnknownPanel):
        dashboard_panels.dashboard_graph_url("http://p", "nope")


def test_a_dashboard_opens_in_prometheus_with_every_query():
    url = dashboard_panels.dashboard_graph_url("http://p:9090", "shop-slos", 1800)
    params = parse_qs(urlsplit(url).query)
    count = sum(len(p["queries"]) for p in dashboard_panels.dashboard("shop-slos")["panels"])
    assert f"g{count - 1}.expr" in params and f"g{count}.expr" not in params
    assert params["g0.range_input"] == ["30m"]
