"""The native stack (no Grafana here) has no dead "Dashboard" link: every dashboard and panel link of the
console (its API and the page that shows it), of the runbooks page and of an inbox notification is served by
a component that runs: Prometheus's graph page answers 200, the link carries the queries of the panel (or of
the whole dashboard) it names, each query runs, and Chromium shows them on the graph page.

The notification is posted to the inbox's webhook as Alertmanager would (with its token), so the test does not
wait for a real alert: the path from a rule is tests/stack/test_alerting_e2e.py's.
"""
import re
import time
from collections import defaultdict
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.common import dashboard_links, dashboard_panels
from bench.inbox_graphs import post_firing
from processes.waiting import poll_until

STORY_ALERT, STORY_PANEL = "ShopOrdersDropped", ("shop-business", "Orders placed vs checkouts")


def queries_of(url):
    """The expressions a Prometheus graph-page link opens, in order."""
    params = parse_qs(urlsplit(url).query)
    return [params[f"g{n}.expr"][0] for n in range(len(params)) if f"g{n}.expr" in params]


def known_query_lists():
    """{tuple of expressions: what opens them}: every panel's queries and every dashboard's, filled as links fill
    them; a link must open exactly one of these."""
    seconds = dashboard_links.RANGE_SECONDS
    known = {}
    for uid, board in dashboard_panels.index()["dashboards"].items():
        for panel in board["panels"]:
            known[tuple(e for e, _ in dashboard_panels.panel_queries(uid, panel["title"], seconds))] = \
                f"{uid} panel {panel['title']!r}"
        known[tuple(dashboard_panels.query(uid, q["expr"], seconds) for p in board["panels"]
                    for q in p["queries"])] = f"dashboard {uid}"
    return known


def dashboard_links_of(native_stack):
    """{link: the places it was found} from the console's API, the runbooks page and the inbox page."""
    console, inbox = native_stack.url("loadgen"), native_stack.url("inbox")
    found = defaultdict(set)
    for scenario in requests.get(console + "/api/scenarios", timeout=10).json()["scenarios"]:
        found[scenario["dashboard_url"]].add(f"console scenario {scenario['name']}")
    notifications = poll_until(lambda: [n for n in requests.get(console + "/api/notifications", timeout=10)
                                        .json()["notifications"] if n["alertname"] == STORY_ALERT],
                               "the console to list the posted notification", 30)
    for notification in notifications:
        found[notification["dashboard_url"]].add(f"console notification {notification['alertname']}")
    runbooks = requests.get(inbox + "/runbooks", timeout=10).text
    page = requests.get(inbox + "/?refresh=0", timeout=30).text
    grafana_port = f":{native_stack.port('grafana')}"
    assert grafana_port not in runbooks and grafana_port not in page, "a page of the inbox links to Grafana's port"
    # The runbooks page: its dashboard links and panel references; the inbox page: the story panels' links (its
    # "Source query" links are the alerts' generatorURLs, Prometheus's own).
    for href in re.findall(r'href="([^"]+)"', runbooks):
        if "/graph?" in href or "/d/" in href:
            found[unescape(href)].add("runbooks page")
    for href in re.findall(r'<a class="panel-link" href="([^"]+)"', page):
        found[unescape(href)].add("inbox page")
    return found


@pytest.mark.timeout(300)
def test_every_dashboard_link_opens_its_queries_in_the_running_prometheus(native_stack, browser):
    if "grafana" in native_stack.services:
        pytest.skip("Grafana runs in this stack, so its dashboard links are Grafana's.")
    prometheus = native_stack.url("prometheus")
    post_firing(native_stack.url("inbox"), native_stack.webhook_token, prometheus, STORY_ALERT,
                'up{job="shop"} < 2', time.time() - 60)
    links = dashboard_links_of(native_stack)
    sources = set().union(*links.values())
    assert {"runbooks page", "inbox page"} <= sources and any(s.startswith("console scenario") for s in sources)
    assert any(s.startswith("console notification") for s in sources)
    known = known_query_lists()
    checked_queries = set()
    for link, places in links.items():
        source = ", ".join(sorted(places))
        parts = urlsplit(link)
        assert parts.port == native_stack.port("prometheus") and parts.path == "/graph", f"{source}: {link}"
        assert tuple(queries_of(link)) in known, f"{source}: {link} opens no panel's or dashboard's queries"
        answer = requests.get(link, timeout=10)
        assert answer.status_code == 200 and urlsplit(answer.url).path == "/query", (source, answer.url)
        first = queries_of(link)[0]
        if first not in checked_queries:
            checked_queries.add(first)
            result = requests.get(prometheus + "/api/v1/query", params={"query": first}, timeout=10).json()
            assert result["status"] == "success", (source, first, result)
    # The notification's story panel, linked from the inbox page and the console, is that panel exactly.
    story = [e for e, _ in dashboard_panels.panel_queries(*STORY_PANEL, dashboard_links.RANGE_SECONDS)]
    assert story in [queries_of(link) for link, places in links.items() if "inbox page" in places]
    assert story in [queries_of(link) for link, places in links.items()
                     if f"console notification {STORY_ALERT}" in places]
    print(f"\n{len(links)} dashboard links from {len(sources)} places, each served by Prometheus's graph page; "
          f"{len(checked_queries)} distinct first queries run.")

    # What a person sees: the console's Dashboard links, and Prometheus's graph page showing the panel's queries.
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(native_stack.url("loadgen") + "/")
        page.locator("a", has_text="Dashboard:").first.wait_for()
        shown = page.locator("a", has_text="Dashboard").evaluate_all("links => links.map((a) => a.href)")
        assert shown and all(tuple(queries_of(href)) in known and urlsplit(href).port == native_stack.port(
            "prometheus") for href in shown), shown
        story_link = next(link for link, places in links.items() if "inbox page" in places
                          and queries_of(link) == story)
        page.goto(story_link)
        editors = page.locator(".cm-content")
        editors.nth(len(story) - 1).wait_for()
        assert editors.all_inner_texts() == story
        assert urlsplit(page.url).path == "/query"
    finally:
        page.close()
