"""A real inbox under gunicorn, started with the environment the launcher gives it, links a firing latency alert
to Zipkin's search of the alert's window, on the port where that stack's Zipkin listens."""
import datetime
import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import requests

from launcher import components
from launcher.stack import Stack
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.servers import start_service

WEBHOOK_TOKEN = "trace-links-process-token"


def test_a_firing_latency_alert_links_to_slow_payments_traces_since_it_started(tmp_path, monkeypatch):
    monkeypatch.setenv(components.PORT_VARIABLES["zipkin"], "19411")
    stack = Stack(str(tmp_path / "local"), fast=False, fixed_ports=True)
    launcher_env = components.build("inbox", stack).env
    assert launcher_env["ZIPKIN_PUBLIC_URL"] == "http://localhost:19411"
    env = {key: value for key, value in launcher_env.items() if key.endswith("_PUBLIC_URL")}
    process, url = start_service("inbox", str(tmp_path / "inbox"), {"WEBHOOK_TOKEN": WEBHOOK_TOKEN, **env}, workers=1)
    try:
        started = datetime.datetime.now(datetime.UTC).replace(microsecond=250000) - datetime.timedelta(minutes=2)
        firing = alert("ShopPaymentsLatencyHigh", severity="warning")
        firing["startsAt"] = started.isoformat().replace("+00:00", "Z")
        response = requests.post(url + "/webhook", json=payload(firing), timeout=10,
                                 headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert response.status_code == 200, response.text
        before = time.time()
        text = requests.get(url + "/", timeout=10).text
        after = time.time()
    finally:
        process.stop()
    links = re.findall(r'<a class="traces" href="([^"]+)">Example traces</a>', text)
    assert len(links) == 1, text
    link = urlsplit(html.unescape(links[0]))
    query = {key: values[0] for key, values in parse_qs(link.query).items()}
    assert (link.netloc, link.path) == ("localhost:19411", "/zipkin/")
    assert query["serviceName"] == "payments" and query["minDuration"] == "500000"
    assert query["lookback"] == "range" and query["startTs"] == str(int(started.timestamp() * 1000))
    assert before * 1000 - 1000 <= int(query["endTs"]) <= after * 1000 + 1000, "a firing alert's window ends now"
