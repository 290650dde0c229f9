"""A latency or error alert's notification links to example traces of its window in Zipkin (app/inbox/trace_links.py).

With a real inbox under gunicorn and the launcher's environment: tests/process/test_trace_links.py."""
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from app.inbox import create_app, trace_links
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.paths import REPO

TOKEN = "trace-links-test-token"
STARTS = 1714557600.123  # the payloads' startsAt, 2024-05-01T10:00:00.123456789Z
ENDS = 1714557900.0      # a resolved payload's endsAt, 2024-05-01T10:05:00Z


def page(tmp_path, *alerts, **config):
    """The inbox page after Alertmanager posted the alerts."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": TOKEN, **config})
    client = app.test_client()
    response = client.post("/webhook", json=payload(*alerts), headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return client.get("/").get_data(as_text=True)


def trace_links_of(text):
    """{path and query of every "Example traces" link on the page}, parsed."""
    found = re.findall(r'<a class="traces" href="([^"]+)">Example traces</a>', text)
    return [(urlsplit(html.unescape(url)), parse_qs(urlsplit(html.unescape(url)).query)) for url in found]


def test_a_resolved_latency_alert_links_to_payments_slow_traces_of_its_window(tmp_path):
    [(url, query)] = trace_links_of(page(tmp_path, alert("ShopPaymentsLatencyHigh", status="resolved")))
    assert (url.netloc, url.path) == ("localhost:9411", "/zipkin/")
    assert query == {"serviceName": ["payments"], "minDuration": ["500000"], "lookback": ["range"],
                     "startTs": [str(int(STARTS * 1000))], "endTs": [str(int(ENDS * 1000))], "limit": ["10"]}


def test_a_firing_error_alert_links_to_error_traces_until_now(tmp_path):
    [(_, query)] = trace_links_of(page(tmp_path, alert("ShopCheckoutBudgetBurn")))
    assert query["serviceName"] == ["shop"] and query["annotationQuery"] == ["error"]
    assert query["spanName"] == ["post /carts/<cart_id>/checkout"]
    assert int(query["endTs"][0]) > int(ENDS * 1000), "a firing alert's window runs to now"


def test_an_alert_no_trace_shows_has_no_trace_link(tmp_path):
    assert trace_links_of(page(tmp_path, alert("ShopTargetDown"), alert("ShopOrdersDropped"))) == []


def test_the_link_follows_zipkins_public_address(tmp_path):
    text = page(tmp_path, alert("ShopLatencyBudgetBurn"), ZIPKIN_PUBLIC_URL="http://localhost:29411")
    [(url, query)] = trace_links_of(text)
    assert url.netloc == "localhost:29411" and query["minDuration"] == ["250000"]


def test_every_alert_with_traces_exists_in_the_rules():
    names = {rule["alert"] for path in (REPO / "prometheus" / "rules").glob("*.yml")
             for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}
    assert set(trace_links.SEARCHES) <= names


def test_the_least_durations_are_the_rules_thresholds():
    """The copies in the inbox are the bucket bounds the recording rule and the latency SLO count against."""
    recording = (REPO / "prometheus" / "rules" / "shop-recording.yml").read_text()
    slow_calls = re.search(r'record: job_peer:shop_dependency_slow_requests:ratio_rate1m\n.*?le="([0-9.]+)"',
                           recording, flags=re.DOTALL)
    assert trace_links.SEARCHES["ShopPaymentsLatencyHigh"][2] == float(slow_calls.group(1))
    slos = {slo["name"]: slo for slo in yaml.safe_load((REPO / "prometheus" / "slo" / "slos.yml").read_text())["slos"]}
    latency_bound = re.search(r'le="([0-9.]+)"', slos["latency"]["good"]).group(1)
    assert trace_links.SEARCHES[slos["latency"]["alert"]][2] == float(latency_bound)


@pytest.mark.parametrize("name", sorted(trace_links.SEARCHES))
def test_every_search_names_a_service_that_sends_spans(name):
    assert trace_links.SEARCHES[name][0] in ("shop", "payments")
