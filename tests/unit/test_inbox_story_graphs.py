"""Each notification's second graph: the panel its runbook section opens, over the alert graph's window
(app/inbox/story_graphs.py), against a small local server that answers Prometheus's query_range. With a real
Prometheus and a real browser: tests/stack/test_inbox_graphs.py."""
import re
import time

import pytest
from flask import Flask, request

from app.common import dashboard_panels
from app.inbox import create_app, graphs, story_graphs
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.paths import REPO
from tests.helpers.servers import ThreadedServer
from tests.unit.test_inbox_graphs import attributes

PANEL = ("shop-business", "Orders placed vs checkouts")  # ShopOrdersDropped's story: two queries


def fake_prometheus(asked):
    """A query_range that answers every query with one series, a sample every step; `asked` collects queries."""
    app = Flask(__name__)

    @app.get("/api/v1/query_range")
    def query_range():
        asked.append(request.args["query"])
        start, end, step = (float(request.args[k]) for k in ("start", "end", "step"))
        values = [[start + n * step, "1"] for n in range(int((end - start) // step) + 1)]
        return {"status": "success", "data": {"resultType": "matrix",
                                              "result": [{"metric": {"job": "shop"}, "values": values}]}}
    return app


@pytest.fixture
def prometheus():
    """The fake Prometheus's URL and the queries it was asked."""
    asked = []
    with ThreadedServer(fake_prometheus(asked)) as server:
        yield server.url, asked


def inbox_client(tmp_path, prometheus_url):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": "t",
                      "PROMETHEUS_URL": prometheus_url, "RUNBOOKS_PATH": str(REPO / "docs" / "runbooks.md")})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t"
    return client


def firing(name, minutes_ago=5):
    """An alert that started firing some minutes ago."""
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - minutes_ago * 60))
    return {**alert(name), "startsAt": started}


def story_svg(html):
    """The <svg> inside the page's story figure."""
    figure = re.search(r'<figure class="alert-graph story-graph">(.*?)</figure>', html, re.S)
    return figure and figure.group(1)[:figure.group(1).index("</svg>") + 6]


def test_the_story_graph_plots_every_query_of_the_panel_over_the_alerts_window(tmp_path, prometheus):
    url, asked = prometheus
    client = inbox_client(tmp_path, url)
    assert client.post("/webhook", json=payload(firing("ShopOrdersDropped"))).status_code == 200
    html = client.get("/").get_data(as_text=True)
    svg = story_svg(html)
    facts = attributes(svg)
    expected = [expr for expr, _ in dashboard_panels.panel_queries(*PANEL, graphs.WINDOW_SECONDS)]
    assert asked[-2:] == expected  # after the alert's own query, the panel's, as Grafana fills them
    assert facts["data-series-count"] == "2" and facts["data-threshold"] == ""
    assert int(facts["data-end"]) - int(facts["data-start"]) == graphs.WINDOW_SECONDS
    # The firing interval is shaded and the series cover it: a sample every step from its start.
    assert int(facts["data-firing-points"]) >= 2 * (int(facts["data-firing-end"]) - int(facts["data-firing-start"])) \
        // graphs.STEP_SECONDS
    # Each series is named by its query's legend ("orders stored"), the graph by its dashboard and panel.
    assert 'data-label="orders stored"' in svg and "Shop: business: Orders placed vs checkouts" in svg
    # Both graphs share the alert's window: the first figure is the alert's own.
    first = html[html.index('<figure class="alert-graph">'):]
    assert attributes(first[first.index("<svg"):])["data-end"] == facts["data-end"]


def test_both_graphs_are_cached_per_alert_until_the_window_moves(tmp_path, prometheus):
    url, asked = prometheus
    client = inbox_client(tmp_path, url)
    client.post("/webhook", json=payload(firing("ShopOrdersDropped")))
    client.get("/")
    queries = len(asked)
    assert queries == 3  # the alert's expression, the panel's two
    client.get("/")
    assert len(asked) == queries


def test_an_alert_without_a_runbook_panel_has_no_second_graph(tmp_path, prometheus):
    url, asked = prometheus
    client = inbox_client(tmp_path, url)
    body = payload(firing("ShopTargetDown"), firing("NotInTheRunbooks"), {**firing("ShopMemoryGrowth"),
                                                                          "labels": {"severity": "warning"}})
    assert client.post("/webhook", json=body).status_code == 200
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "story-graph" not in html
    assert html.count('<figure class="alert-graph">') == 3 and len(asked) == 3


def test_the_story_graph_says_why_when_prometheus_is_missing(tmp_path):
    client = inbox_client(tmp_path, "")
    client.post("/webhook", json=payload(firing("ShopOrdersDropped")))
    svg = story_svg(client.get("/").get_data(as_text=True))
    assert 'class="graph placeholder"' in svg
    assert "No graph of the runbook panel: No Prometheus is configured (PROMETHEUS_URL)." in svg


def test_a_fixed_legend_names_a_series_and_a_templated_one_leaves_its_labels():
    assert story_graphs.series_label("orders stored", "{}") == "orders stored"
    assert story_graphs.series_label("{{route}}", '{route="/"}') == '{route="/"}'
    assert story_graphs.series_label("__auto", "up") == "up"


def test_alerts_sharing_a_window_share_their_panels_samples(tmp_path, prometheus):
    """ShopOrdersDropped and ShopCheckoutBudgetBurn both open "Orders placed vs checkouts": on one page, over one
    window, the panel's queries are asked once, and each alert still gets its own graph (its own firing band)."""
    url, asked = prometheus
    cache, now = graphs.GraphCache(), time.time()
    first = {"id": 1, "status": "firing", "startsAt": firing("A", 5)["startsAt"], "endsAt": "0001-01-01T00:00:00Z"}
    second = {**first, "id": 2, "startsAt": firing("B", 2)["startsAt"]}
    one = story_graphs.story_graph_svg(first, *PANEL, url, cache, now)
    two = story_graphs.story_graph_svg(second, *PANEL, url, cache, now)
    assert len(asked) == 2  # the panel's two queries, once
    assert attributes(one)["data-firing-start"] != attributes(two)["data-firing-start"]
    assert attributes(one)["data-points"] == attributes(two)["data-points"]
