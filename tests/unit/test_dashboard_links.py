"""Where "Dashboard" links go, both ways: Grafana where it runs (compose), Prometheus's graph page where it does
not (the native stack without a `grafana` program: DASHBOARD_LINKS=prometheus, app/common/dashboard_links.py).
Held for the shared choice, the launcher that makes it, the console's links and the inbox's runbooks page and
notifications. The native stack's links followed for real: tests/stack/test_dashboard_links_native.py."""
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from app.common import dashboard_links, dashboard_panels
from app.inbox import create_app
from launcher import components
from launcher.stack import Stack
from loadgen.catalog import load_catalog
from loadgen.config import Urls, urls_from_env
from loadgen.console.links import Links as ConsoleLinks
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.paths import REPO

GRAFANA, PROMETHEUS = "http://localhost:3000", "http://localhost:9090"


def graph_queries(url):
    """The expressions a Prometheus graph-page link opens, in order."""
    params = parse_qs(urlsplit(url).query)
    return [params[f"g{n}.expr"][0] for n in range(len(params)) if f"g{n}.expr" in params]


@pytest.mark.parametrize(("environ", "target"), [({}, "grafana"), ({"DASHBOARD_LINKS": "prometheus"}, "prometheus"),
                                                 ({"DASHBOARD_LINKS": " Grafana "}, "grafana")])
def test_the_target_is_read_from_the_environment_grafana_by_default(environ, target):
    assert dashboard_links.target_from_env(environ) == target


def test_an_unknown_target_is_refused_with_a_sentence():
    with pytest.raises(ValueError, match="DASHBOARD_LINKS must be grafana or prometheus, not 'kibana'."):
        dashboard_links.target_from_env({"DASHBOARD_LINKS": "kibana"})


def test_with_grafana_links_open_grafanas_dashboard_and_panel_view():
    links = dashboard_links.DashboardLinks(GRAFANA, PROMETHEUS, "grafana")
    assert links.dashboard("shop-business") == f"{GRAFANA}/d/shop-business"
    panel_id = dashboard_panels.panel("shop-business", "Orders placed vs checkouts")["id"]
    assert links.panel("shop-business", "Orders placed vs checkouts") == \
        f"{GRAFANA}/d/shop-business?viewPanel=panel-{panel_id}"


def test_without_grafana_links_open_the_queries_in_prometheus():
    links = dashboard_links.DashboardLinks(GRAFANA, PROMETHEUS + "/", "prometheus")
    panel = links.panel("shop-business", "Orders placed vs checkouts")
    assert panel.startswith(f"{PROMETHEUS}/graph?")
    assert graph_queries(panel) == [expr for expr, _ in dashboard_panels.panel_queries(
        "shop-business", "Orders placed vs checkouts", dashboard_links.RANGE_SECONDS)]
    board = links.dashboard("shop-monitoring")
    assert len(graph_queries(board)) == sum(len(p["queries"]) for p in dashboard_panels.dashboard("shop-monitoring")
                                            ["panels"])
    assert "3000" not in panel + board


def test_the_launcher_tells_the_inbox_and_the_console_whether_grafana_runs(tmp_path):
    without = Stack(str(tmp_path / "a"), services=["inbox", "prometheus", "loadgen"])
    with_grafana = Stack(str(tmp_path / "b"), services=["inbox", "prometheus", "loadgen"])
    with_grafana.services.append("grafana")  # as when a `grafana` program is on PATH
    for name in ("inbox", "loadgen"):
        assert components.build(name, without).env["DASHBOARD_LINKS"] == "prometheus"
        assert components.build(name, with_grafana).env["DASHBOARD_LINKS"] == "grafana"
    # `loadgen trigger` in another shell, after the printed exports, says the same links as the console.
    exports = dict(word.split("=", 1) for line in without.cli_exports() for word in line.split()[1:])
    assert urls_from_env(exports).dashboard_links == "prometheus"


@pytest.mark.parametrize("target", ["grafana", "prometheus"])
def test_the_consoles_links_follow_the_target(target):
    urls = Urls(prometheus="http://127.0.0.1:19090", grafana="http://127.0.0.1:13000", dashboard_links=target)
    links = ConsoleLinks(urls, load_catalog())
    scenario_alert = {"alertname": "ShopOrdersDropped", "labels": {}}
    slo_alert = {"alertname": "NoScenarioBudgetBurn", "labels": {"slo": "availability"}}
    if target == "grafana":
        assert links.dashboard("shop-business") == "http://127.0.0.1:13000/d/shop-business"
        assert links.dashboard_for_alert(scenario_alert) == "http://127.0.0.1:13000/d/shop-business"
        assert links.dashboard_for_alert(slo_alert) == "http://127.0.0.1:13000/d/shop-slos"
        return
    # The scenario's alert opens its story panel; an alert of no scenario its dashboard, all in Prometheus.
    story = links.dashboard_for_alert(scenario_alert)
    assert story.startswith("http://127.0.0.1:19090/graph?")
    assert graph_queries(story)[0] == dashboard_panels.panel_queries(
        "shop-business", "Orders placed vs checkouts", dashboard_links.RANGE_SECONDS)[0][0]
    assert links.dashboard_for_alert(slo_alert) == links.dashboard("shop-slos")
    assert graph_queries(links.dashboard("shop-business"))


def test_trigger_names_the_story_panel_in_prometheus_where_no_grafana_runs():
    from loadgen.cli import trigger_message
    catalog = load_catalog()
    urls = Urls(prometheus="http://127.0.0.1:19090", dashboard_links="prometheus")
    message = trigger_message(catalog["payments-errors"], 120, urls, catalog)
    link = message.split("its queries in Prometheus: ")[1].rstrip(".")
    assert 'Story: panel "Payments call errors" of shop-dependencies' in message and "/d/" not in message
    assert graph_queries(link) == [e for e, _ in dashboard_panels.panel_queries(
        "shop-dependencies", "Payments call errors", dashboard_links.RANGE_SECONDS)]


def inbox(tmp_path, target, **config):
    """An inbox linking dashboards to `target`, Prometheus not configured (graphs are placeholders)."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": "t",
                      "PROMETHEUS_URL": "", "RUNBOOKS_PATH": str(REPO / "docs" / "runbooks.md"),
                      "DASHBOARD_LINKS": target, **config})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t"
    return client


def hrefs(html, css_class=None):
    """Every link of a page (of one class), unescaped."""
    pattern = r'<a class="%s" href="([^"]*)"' % css_class if css_class else r'href="([^"]*)"'
    return [unescape(h) for h in re.findall(pattern, html)]


def test_the_runbooks_page_without_grafana_links_every_dashboard_and_panel_to_prometheus(tmp_path):
    client = inbox(tmp_path, "prometheus", PROMETHEUS_PUBLIC_URL="http://localhost:19090")
    html = client.get("/runbooks").get_data(as_text=True)
    assert "localhost:3000" not in html and "No Grafana runs in this stack" in html
    dashboards = [h for h in hrefs(html) if "/graph?" in h and "panel-link" not in h]
    assert dashboards and all(h.startswith("http://localhost:19090/graph?g0.expr=") for h in dashboards)
    panels = hrefs(html, "panel-link")
    references = re.findall(r'(shop-[a-z0-9-]+), panel "([^"]+)"', (REPO / "docs" / "runbooks.md").read_text())
    assert len(panels) >= len(references)
    # The reference `shop-business, panel "Orders placed vs checkouts"` opens that panel's queries.
    expected = dashboard_panels.panel_queries("shop-business", "Orders placed vs checkouts",
                                              dashboard_links.RANGE_SECONDS)
    assert any(graph_queries(h) == [e for e, _ in expected] for h in panels)
    # Both panels of `panels "Synthetic probe: front door success" and "Synthetic probe: duration"` are links.
    assert re.search(r'<a class="panel-link"[^>]*>shop-monitoring, panels &quot;Synthetic probe: front door '
                     r'success&quot;</a> and\s+<a class="panel-link"[^>]*>&quot;Synthetic probe: duration&quot;</a>',
                     html)


def test_the_runbooks_page_with_grafana_keeps_grafanas_links_and_views_each_panel(tmp_path):
    html = inbox(tmp_path, "grafana").get("/runbooks").get_data(as_text=True)
    assert "/graph?" not in html and "No Grafana runs" not in html
    assert 'href="http://localhost:3000/d/shop-overview"' in html
    panel_id = dashboard_panels.panel("shop-business", "Orders placed vs checkouts")["id"]
    assert f"http://localhost:3000/d/shop-business?viewPanel=panel-{panel_id}" in hrefs(html, "panel-link")


@pytest.mark.parametrize("target", ["grafana", "prometheus"])
def test_a_notification_links_the_panel_its_runbook_opens(tmp_path, target):
    client = inbox(tmp_path, target)
    assert client.post("/webhook", json=payload(alert("ShopOrdersDropped"))).status_code == 200
    html = client.get("/").get_data(as_text=True)
    [link] = hrefs(html, "panel-link")
    assert 'Shop: business, panel "Orders placed vs checkouts"' in unescape(html)
    if target == "grafana":
        assert link.startswith("http://localhost:3000/d/shop-business?viewPanel=panel-")
    else:
        assert link.startswith("http://localhost:9090/graph?") and "3000" not in html
