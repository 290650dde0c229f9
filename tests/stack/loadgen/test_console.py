"""The demo console in a real headless Chromium (tests/stack/conftest.py) against the native stack: start a
scenario, see it active and shaded on the live graphs, see its alert arrive in the notifications and in the
scenario's story (and resolve once stopped)."""
import re
import time

import pytest
import requests
from playwright import sync_api as playwright

SCENARIO, ALERT = "checkout-silent-failure", "ShopOrdersDropped"
# The request-rate graph as drawn from Prometheus (not a placeholder), with the scenario's window shaded.
SHADED_GRAPH = ('#graphs .graph-box[data-name="requests"] svg.graph:not(.placeholder)'
                f':has(rect.window[data-label="{SCENARIO}"])')
# Read in one go: the page replaces the SVG every few seconds.
GRAPH_ENDS = """(svg) => [Number(svg.dataset.end), Number(svg.dataset.points),
    Number(svg.querySelector("rect.window").dataset.end)]"""
STORY_LINE = f'#story-lines li[data-alertname="{ALERT}"]'
NOTIFIED_SINCE = """([name, status, since]) => [...document.querySelectorAll(
    `#notifications li.${status}[data-alertname="${name}"]`)].some((li) => Number(li.dataset.receivedAt) >= since)"""


@pytest.mark.timeout(420)
def test_console_starts_a_scenario_and_shows_its_alert(native_stack, browser):
    console = native_stack.url("loadgen")
    page = browser.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(console + "/")
        card = page.locator(f"#scenario-{SCENARIO}")
        playwright.expect(card).to_contain_text(ALERT)  # description and expected alerts come from the catalog
        playwright.expect(card.locator("a", has_text="Runbook")).to_have_attribute(
            "href", f"{native_stack.url('inbox')}/runbooks#{ALERT.lower()}")
        started_at = time.time()
        card.locator("button[data-action=start]").click()
        playwright.expect(card.locator(".state")).to_contain_text("ACTIVE")
        # One run at a time: a second Start would silently restart its timer (issue 15).
        playwright.expect(card.locator("button[data-action=start]")).to_be_disabled()
        playwright.expect(page.locator("#active-summary")).to_contain_text(SCENARIO)
        assert float(page.locator("#target-rate").inner_text().rstrip("/s")) > 0  # baseline traffic runs
        # The live graphs: drawn from Prometheus, the running scenario shaded up to the graph's end.
        graph = page.locator(SHADED_GRAPH)
        playwright.expect(graph).to_have_count(1)
        first_end, points, shaded_to = graph.evaluate(GRAPH_ENDS)
        assert points > 0 and shaded_to == first_end  # an active scenario is shaded up to now
        playwright.expect(page.locator("#story-head")).to_contain_text(f"{SCENARIO} (")
        playwright.expect(page.locator(STORY_LINE).first).to_contain_text(ALERT)

        # The alert travels rule -> Alertmanager -> inbox -> console; the browser polls the console's API.
        page.wait_for_function(NOTIFIED_SINCE, arg=[ALERT, "firing", started_at], timeout=240_000, polling=1000)
        notification = page.locator(f'#notifications li.firing[data-alertname="{ALERT}"]').first
        # The inbox's clock (UTC, labelled), not the browser's local time: the same moment reads the same.
        received = float(notification.get_attribute("data-received-at"))
        playwright.expect(notification.locator(".received")).to_have_text(
            time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(received)))
        playwright.expect(notification.locator("a", has_text="Dashboard")).to_have_attribute(
            "href", f"{native_stack.url('grafana')}/d/shop-business")
        # The story tells the same alert with its time after Start; the graphs have moved on meanwhile.
        playwright.expect(page.locator(STORY_LINE).first).to_have_text(re.compile(r"fired \d+ s after Start"))
        assert graph.evaluate(GRAPH_ENDS)[0] > first_end

        stopped_at = time.time()
        card.locator("button[data-action=stop]").click()
        playwright.expect(card.locator(".state")).to_have_text("")
        playwright.expect(card.locator("button[data-action=start]")).to_be_enabled()
        page.wait_for_function(NOTIFIED_SINCE, arg=[ALERT, "resolved", stopped_at], timeout=180_000, polling=1000)
        playwright.expect(page.locator(STORY_LINE).first).to_have_text(
            re.compile(r"fired \d+ s after Start, resolved \d+ s after Stop"))
        playwright.expect(page.locator("#story-head")).to_contain_text("stopped")
    finally:
        page.close()
        requests.delete(f"{console}/api/scenarios/{SCENARIO}", json={}, timeout=10)
    metrics = requests.get(console + "/metrics", timeout=5).text
    assert f'loadgen_scenario_active{{scenario="{SCENARIO}"}} 0.0' in metrics


def test_console_keeps_the_fault_token_on_the_server(native_stack):
    page_and_script = "".join(requests.get(native_stack.url("loadgen") + path, timeout=5).text
                              for path in ("/", "/static/console.js", "/api/scenarios", "/api/status"))
    assert native_stack.fault_token not in page_and_script
    # The services themselves refuse the browser (no token): only the load generator can switch faults.
    refused = requests.put(native_stack.url("shop") + "/admin/faults/slow_code", json={}, timeout=5)
    assert refused.status_code == 401
