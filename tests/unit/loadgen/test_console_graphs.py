"""The console's live graphs (GET /api/graphs): the dashboard's queries, scenario windows shaded, one set of
range queries per step whatever the number of callers, and a placeholder (never an error) without Prometheus.

Prometheus here is a real local HTTP server answering `query_range` with a flat series, so the route's
whole path (request guard, range query, rendering) runs as it does in the console."""
import re

import pytest
from flask import Flask, request

from app.common import dashboard_panels, graph_svg
from loadgen.config import Urls
from loadgen.console import create_app, graphs, live
from loadgen.state import build_state
from processes.ports import free_port
from tests.helpers.servers import ThreadedServer

NOW = 1_767_225_603.0  # 3 s into a 5 s step


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


def fake_prometheus(asked):
    """A Prometheus answering every range query with one series at 1.0 over the asked window."""
    app = Flask(__name__)

    @app.get("/api/v1/query_range")
    def query_range():
        asked.append(request.args["query"])
        start, end, step = (float(request.args[key]) for key in ("start", "end", "step"))
        values = [[start + i * step, "1"] for i in range(int((end - start) / step) + 1)]
        return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}
    return app


def console(prometheus_url, clock):
    """The console over unreachable services, its graphs asking `prometheus_url` on `clock`."""
    dead = {name: f"http://127.0.0.1:{free_port()}" for name in ("shop", "payments", "inbox")}
    state = build_state(Urls(**dead, prometheus=prometheus_url, fault_token="t"), rate=0)
    state.manager.clock = clock
    app = create_app(state)
    app.extensions[live.GRAPHS_EXTENSION] = graphs.LiveGraphs(prometheus_url, clock=clock)
    return app.test_client(), state


@pytest.fixture
def prometheus():
    asked = []
    with ThreadedServer(fake_prometheus(asked)) as server:
        yield server.url, asked


def svg_attributes(svg):
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', svg[:svg.index(">")]))


def windows_of(svg):
    return [dict(re.findall(r'(data-[a-z]+)="([^"]*)"', rect))
            for rect in re.findall(r'<rect class="window"[^>]*>', svg)]


def test_without_prometheus_every_graph_is_a_placeholder_and_it_is_asked_once_per_backoff():
    clock = Clock()
    closed = f"http://127.0.0.1:{free_port()}"
    client, state = console(closed, clock)
    try:
        first = client.get("/api/graphs")
        assert first.status_code == 200
        body = first.get_json()
        assert [g["name"] for g in body["graphs"]] == ["requests", "errors", "latency"]
        for item in body["graphs"]:
            assert not item["drawn"] and 'class="graph placeholder"' in item["svg"]
            assert f"Prometheus is unreachable at {closed}." in item["svg"]
        live_graphs = client.application.extensions[live.GRAPHS_EXTENSION]
        assert live_graphs.queries == 1, "the first refusal must stop the other two queries"
        clock.now += graphs.STEP_SECONDS  # a new window, still within the backoff: nobody asks
        assert client.get("/api/graphs").status_code == 200 and live_graphs.queries == 1
        clock.now += graphs.BACKOFF_SECONDS
        assert client.get("/api/graphs").status_code == 200 and live_graphs.queries == 2
    finally:
        state.manager.close()


def test_the_graphs_shade_the_scenarios_of_the_window_with_their_names(prometheus):
    url, _ = prometheus
    clock = Clock()
    client, state = console(url, clock)
    try:
        history = state.manager.history
        history.started("bad-deploy", NOW - 2000)  # stopped before the window: not shaded
        history.stopped("bad-deploy", NOW - 1900)
        history.started("payments-errors", NOW - 300)
        history.stopped("payments-errors", NOW - 200)
        history.started("payments-latency", NOW - 60)  # active: shaded up to now
        body = client.get("/api/graphs").get_json()
        end = graphs.window_end(NOW)
        assert (body["start"], body["end"]) == (end - graphs.WINDOW_SECONDS, end)
        assert [w["name"] for w in body["windows"]] == ["payments-errors", "payments-latency"]
        for item in body["graphs"]:
            assert item["drawn"]
            svg = item["svg"]
            assert svg_attributes(svg)["data-end"] == f"{end:.0f}"
            assert svg_attributes(svg)["data-window-count"] == "2"
            assert int(svg_attributes(svg)["data-points"]) == graphs.WINDOW_SECONDS // graphs.STEP_SECONDS + 1
            assert windows_of(svg) == [
                {"data-label": "payments-errors", "data-start": f"{NOW - 300:.0f}", "data-end": f"{NOW - 200:.0f}"},
                {"data-label": "payments-latency", "data-start": f"{NOW - 60:.0f}", "data-end": f"{end:.0f}"}]
    finally:
        state.manager.close()


def test_callers_within_one_step_share_one_set_of_queries(prometheus):
    url, asked = prometheus
    clock = Clock()
    client, state = console(url, clock)
    try:
        for _ in range(5):
            assert client.get("/api/graphs").status_code == 200
        assert sorted(asked) == sorted(panel.query for panel in graphs.panels())
        clock.now += graphs.STEP_SECONDS
        moved = client.get("/api/graphs").get_json()
        assert len(asked) == 6 and moved["end"] == graphs.window_end(NOW) + graphs.STEP_SECONDS
    finally:
        state.manager.close()


def test_the_queries_are_the_overview_dashboards():
    overview = {title: dashboard_panels.panel_queries("shop-overview", title, graphs.WINDOW_SECONDS)[0][0]
                for title in ("Traffic", "Server error ratio", "p99 latency")}
    queries = {panel.name: panel.query for panel in graphs.panels()}
    assert queries["requests"] == overview["Traffic"]
    assert queries["errors"] == overview["Server error ratio"]
    p95 = overview["p99 latency"].replace("histogram_quantile(0.99, ", "histogram_quantile(0.95, ")
    assert queries["latency"] == p95 != overview["p99 latency"]
    with pytest.raises(ValueError, match="p99 latency query no longer starts with"):
        graphs._percentile("quantile_over_time(0.99, x[1m])", "0.95")


def test_windows_are_clipped_to_the_graph_and_their_labels_escaped():
    hostile = '<script>"x"</script>'
    svg = graph_svg.render(graph_svg.Graph([], 1000, 1300, 30, windows=[
        graph_svg.Window(hostile, 900, 1100), graph_svg.Window("later", 1400, 1500)]))
    assert windows_of(svg) == [{"data-label": "&lt;script&gt;&quot;x&quot;&lt;/script&gt;", "data-start": "1000",
                                "data-end": "1100"}]
    assert "<script>" not in svg and svg_attributes(svg)["data-window-count"] == "1"
    assert "data-window-count" not in graph_svg.render(graph_svg.Graph([], 1000, 1300, 30))  # the inbox's graphs
