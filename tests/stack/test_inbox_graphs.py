"""The inbox's alert graphs with a real Prometheus and a real browser: a firing notification's page shows a
graph of its expression's series whose samples are Prometheus's own and cover the firing interval, and beside
it a graph of the panel its runbook opens, over the same window, its samples covering the firing interval too
and its caption linking the panel; a page of 50 notifications renders in under a second once its graphs are
cached; with Prometheus gone, the page stays 200 and says so in the graph's place.

The notification is posted to the webhook as Alertmanager would (with its token), for an expression this
two-component stack can evaluate: `up{job="prometheus"} < 2` plots `up{job="prometheus"}` (1) under a
threshold line at 2. The story graph's alert is PrometheusBadConfig, whose runbook opens shop-monitoring's
"Prometheus configuration", a query this stack answers. The path from a rule through Alertmanager is
tests/stack/test_alerting_e2e.py's.
"""
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.common import dashboard_panels
from app.inbox.graphs import WINDOW_SECONDS, expression_of
from bench import goals
from bench import inbox_graphs as bench_page
from launcher.stack import Stack
from processes.waiting import poll_until
from tests.helpers.prometheus_api import instant_query

EXPRESSION, SERIES = 'up{job="prometheus"} < 2', 'up{job="prometheus"}'
STORY_ALERT, STORY_PANEL = "PrometheusBadConfig", ("shop-monitoring", "Prometheus configuration")
FIRING_FOR_SECONDS = 40
PAGE_OF = bench_page.NOTIFICATIONS
SVG_FACTS = """(svg) => ({...svg.dataset, width: svg.getBoundingClientRect().width,
    height: svg.getBoundingClientRect().height,
    plotted: [...svg.querySelectorAll("polyline.series")].reduce((n, line) => n + line.points.numberOfItems, 0),
    labels: [...svg.querySelectorAll("polyline.series")].map((line) => line.dataset.label)})"""


@pytest.fixture
def stack(tmp_path):
    """The inbox, the Prometheus it draws from and Alertmanager (whose alerts show the real generatorURL),
    fast mode (1 s scrapes)."""
    with Stack(str(tmp_path / "stack"), services=["inbox", "alertmanager", "prometheus"], fast=True,
               loadgen_rate=0) as running:
        yield running


def post_firing(stack, name, starts_at):
    """Post one firing notification of EXPRESSION, as Alertmanager would; its id."""
    return bench_page.post_firing(stack.url("inbox"), stack.webhook_token, stack.url("prometheus"), name,
                                  EXPRESSION, starts_at)


def check_story_graph(facts, link, prometheus, starts_at):
    """The story graph plots Prometheus's samples of the runbook panel's query over the alert graph's window,
    covering the firing interval, and its caption links that panel in Prometheus (this stack has no Grafana)."""
    [(query, _legend)] = dashboard_panels.panel_queries(*STORY_PANEL, WINDOW_SECONDS)
    start, end = int(facts["start"]), int(facts["end"])
    assert end - start == WINDOW_SECONDS and facts["seriesCount"] == "1" and facts["threshold"] == ""
    assert facts["firingStart"] == f"{starts_at:.0f}"
    samples = requests.get(prometheus + "/api/v1/query_range", timeout=5, params={
        "query": query, "start": start, "end": end, "step": 15}).json()["data"]["result"][0]["values"]
    assert facts["plotted"] == int(facts["points"]) == len(samples)
    in_firing = [t for t, _ in samples if t >= starts_at]
    assert int(facts["firingPoints"]) == len(in_firing) >= (end - starts_at) // 15
    assert parse_qs(urlsplit(link).query)["g0.expr"] == [query]
    assert requests.get(link, timeout=5).status_code == 200


@pytest.mark.timeout(240)
def test_a_firing_notification_shows_its_series_over_the_firing_interval(stack, browser):
    prometheus, inbox = stack.url("prometheus"), stack.url("inbox")
    # Enough history that the firing interval (the last FIRING_FOR_SECONDS) is all inside Prometheus's data.
    poll_until(lambda: (r := instant_query(prometheus, f"count_over_time({SERIES}[2m])")) and
               float(r[0]["value"][1]) >= FIRING_FOR_SECONDS + 20,
               f"Prometheus to hold {FIRING_FOR_SECONDS + 20} s of {SERIES}", 120, interval=1)
    starts_at = time.time() - FIRING_FOR_SECONDS
    notification = post_firing(stack, "PrometheusUpBelowTwo", starts_at)
    story = post_firing(stack, STORY_ALERT, starts_at)

    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        response = page.goto(inbox + "/?refresh=0")
        assert response.status == 200
        svg = page.locator(f"#notification-{notification} svg.graph")
        facts = svg.evaluate(SVG_FACTS)
        assert page.locator(f"#notification-{notification} figure.story-graph").count() == 0  # no runbook section
        figure = page.locator(f"#notification-{story} figure.story-graph")
        story_facts = figure.locator("svg.graph").evaluate(SVG_FACTS)
        caption = figure.locator("figcaption a.panel-link")
        assert caption.inner_text() == 'Shop: monitoring, panel "Prometheus configuration"'
        story_link = caption.get_attribute("href")
        own_facts = page.locator(f"#notification-{story} figure.alert-graph:not(.story-graph) svg.graph") \
            .evaluate(SVG_FACTS)
    finally:
        page.close()
    check_story_graph(story_facts, story_link, prometheus, starts_at)
    assert (own_facts["start"], own_facts["end"]) == (story_facts["start"], story_facts["end"])
    assert facts["labels"] == ['up{instance="%s", job="prometheus"}' % prometheus.removeprefix("http://")]
    assert (facts["width"], facts["height"]) == (480, 150)
    assert facts["seriesCount"] == "1" and facts["threshold"] == "2"
    start, end = int(facts["start"]), int(facts["end"])
    assert end - start == 30 * 60 and end <= time.time()
    assert facts["firingStart"] == f"{starts_at:.0f}" and start <= int(facts["firingStart"]) < end
    # The points drawn are exactly Prometheus's samples of the series over the graph's window...
    answer = requests.get(prometheus + "/api/v1/query_range", timeout=5,
                          params={"query": SERIES, "start": start, "end": end, "step": 15}).json()
    samples = answer["data"]["result"][0]["values"]
    assert facts["plotted"] == int(facts["points"]) == len(samples)
    # ...and they cover the firing interval: a sample at every step from its start to the window's end.
    in_firing = [t for t, _ in samples if t >= starts_at]
    assert int(facts["firingPoints"]) == len(in_firing) >= (end - starts_at) // 15
    # What a real alert carries: Prometheus's generatorURL, as Alertmanager passes it on, names the expression.
    watchdog = poll_until(lambda: [a for a in requests.get(stack.url("alertmanager") + "/api/v2/alerts", timeout=5)
                                   .json() if a["labels"]["alertname"] == "Watchdog"],
                          "the Watchdog to reach Alertmanager", 60)
    assert expression_of(watchdog[0]["generatorURL"]) == "vector(1)", watchdog[0]["generatorURL"]
    print(f"\nGraph of {SERIES}: {facts['points']} points over {end - start} s, {facts['firingPoints']} of "
          f"them in the firing interval.")


@pytest.mark.timeout(240)
def test_a_page_of_fifty_renders_in_under_a_second_and_a_missing_prometheus_leaves_a_placeholder(stack, browser):
    inbox = stack.url("inbox")
    poll_until(lambda: instant_query(stack.url("prometheus"), SERIES), f"Prometheus to scrape {SERIES}", 60)
    names = bench_page.story_alerts()  # each with its runbook's panel: two graphs per notification
    for index in range(PAGE_OF):
        post_firing(stack, names[index % len(names)], time.time() - 30)
    timings = []
    for _ in range(3):
        started = time.monotonic()
        page = requests.get(inbox + f"/?limit={PAGE_OF}&refresh=0", timeout=30)
        timings.append(time.monotonic() - started)
        assert page.status_code == 200 and page.text.count('<svg class="graph"') == 2 * PAGE_OF
        assert page.text.count('<figure class="alert-graph story-graph">') == PAGE_OF
        assert 'class="graph placeholder"' not in page.text
    print(f"\nInbox page of {PAGE_OF} notifications with both graphs: first {timings[0]:.3f} s (cold cache), "
          f"then {timings[1]:.3f} s and {timings[2]:.3f} s.")
    assert goals.inbox_page_within_goal(max(timings[1:]))  # `make bench` judges the cold load too

    stack.processes.pop("prometheus").stop()
    latest = post_firing(stack, "PrometheusUpBelowTwoAfterItStopped", time.time() - 30)
    started = time.monotonic()
    page = requests.get(inbox + "/?refresh=0", timeout=30)
    assert page.status_code == 200
    section = page.text[page.text.index(f'id="notification-{latest}"'):]
    graph = section[:section.index("</svg>")]
    assert 'class="graph placeholder"' in graph
    assert f"Prometheus is unreachable at {stack.url('prometheus')}." in graph
    assert time.monotonic() - started < 5
    # In the browser: the sentence shows where the graph would be, in a box of the graph's size.
    page = browser.new_page()
    try:
        assert page.goto(inbox + "/?refresh=0").status == 200
        placeholder = page.locator(f"#notification-{latest} svg.graph.placeholder")
        assert "Prometheus is unreachable" in placeholder.locator(".graph-message").inner_text()
        box = placeholder.bounding_box()
        assert (box["width"], box["height"]) == (480, 150)
    finally:
        page.close()
