"""The alert inbox: every route through the Flask test client (real processes: tests/process/test_inbox_gunicorn.py)."""
import glob
import json
import os
import re

import pytest
import yaml

from app.inbox import create_app, runbooks
from tests.helpers.alert_payloads import alert, payload, replaced
from tests.helpers.metrics_reading import sample
from tests.helpers.servers import REPO

WEBHOOK_TOKEN = "inbox-test-token"
AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
INBOX_METRICS = ("inbox_http_request_duration_seconds", "inbox_http_requests_in_progress",
                 "inbox_notifications_received_total", "inbox_alerts_received_total",
                 "inbox_webhooks_rejected_total", "inbox_graph_queries_total")


@pytest.fixture
def inbox_app(tmp_path):
    """An inbox on a temp database, reading runbooks from a temp file."""
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"),
                       "RUNBOOKS_PATH": str(tmp_path / "runbooks.md"), "WEBHOOK_TOKEN": WEBHOOK_TOKEN})


def authorised_client(app):
    """A test client that sends the webhook token, as Alertmanager does."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = AUTH["Authorization"]
    return client


@pytest.fixture
def client(inbox_app):
    """A test client for the inbox, with Alertmanager's token."""
    return authorised_client(inbox_app)


def test_webhook_stores_the_notification_and_every_alert(client):
    before = sample("inbox_alerts_received_total", status="firing", severity="critical")
    notifications_before = sample("inbox_notifications_received_total", status="firing")
    body = payload(alert("ShopPaymentsErrorRatioHigh"), alert("ShopTargetDown", severity="warning"))
    response = client.post("/webhook", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["alerts"] == 2
    notification_id = response.get_json()["notification_id"]

    notifications = client.get("/api/notifications").get_json()["notifications"]
    assert [n["id"] for n in notifications] == [notification_id]
    assert notifications[0]["groupKey"] == body["groupKey"]
    assert [a["alertname"] for a in notifications[0]["alerts"]] == ["ShopPaymentsErrorRatioHigh", "ShopTargetDown"]
    alerts = client.get("/api/alerts").get_json()["alerts"]
    assert {a["alertname"] for a in alerts} == {"ShopPaymentsErrorRatioHigh", "ShopTargetDown"}
    stored = next(a for a in alerts if a["alertname"] == "ShopPaymentsErrorRatioHigh")
    sent = body["alerts"][0]
    assert stored["labels"] == sent["labels"] and stored["annotations"] == sent["annotations"]
    assert (stored["startsAt"], stored["endsAt"], stored["fingerprint"], stored["status"]) == \
        (sent["startsAt"], sent["endsAt"], sent["fingerprint"], "firing")
    assert stored["notification_id"] == notification_id and isinstance(stored["received_at"], float)
    assert sample("inbox_alerts_received_total", status="firing", severity="critical") == before + 1
    assert sample("inbox_notifications_received_total", status="firing") == notifications_before + 1


def test_listings_are_newest_first_and_filter(client):
    for body in (payload(alert("A")), payload(alert("B")), payload(alert("A", status="resolved"))):
        assert client.post("/webhook", json=body).status_code == 200
    alerts = client.get("/api/alerts").get_json()["alerts"]
    assert [(a["alertname"], a["status"]) for a in alerts] == [("A", "resolved"), ("B", "firing"), ("A", "firing")]
    only_a = client.get("/api/alerts?alertname=A").get_json()["alerts"]
    assert [a["status"] for a in only_a] == ["resolved", "firing"]
    assert [a["alertname"] for a in client.get("/api/alerts?status=firing").get_json()["alerts"]] == ["B", "A"]
    assert client.get("/api/alerts?limit=1").get_json()["count"] == 1
    since = alerts[1]["received_at"]
    assert [a["alertname"] for a in client.get(f"/api/alerts?since={since}").get_json()["alerts"]] == ["A", "B"]
    assert client.get(f"/api/alerts?since={alerts[0]['received_at'] + 60}").get_json()["count"] == 0
    notifications = client.get("/api/notifications?alertname=B").get_json()["notifications"]
    assert [n["alerts"][0]["alertname"] for n in notifications] == ["B"]
    assert [n["status"] for n in client.get("/api/notifications?status=resolved").get_json()["notifications"]] \
        == ["resolved"]


def _without(key, index=None):
    """A valid payload with one field removed (from the payload, or from alert `index`)."""
    body = payload()
    target = body if index is None else body["alerts"][index]
    del target[key]
    return body


def _with(path, new_value):
    """A valid payload with the field at `path` replaced."""
    return replaced(payload(), path, new_value)


BAD_PAYLOADS = [
    ("not json", b"{not json", "invalid_json"),
    ("not utf-8", b"\xff\xfe{}", "invalid_json"),
    ("json array", [payload()], "invalid_payload"),
    ("wrong version", _with(["version"], "3"), "unsupported_version"),
    ("no version", _without("version"), "unsupported_version"),
    ("no alerts", _without("alerts"), "invalid_payload"),
    ("empty alerts", _with(["alerts"], []), "invalid_payload"),
    ("alerts not a list", _with(["alerts"], {"a": 1}), "invalid_payload"),
    ("alert not an object", _with(["alerts"], ["firing"]), "invalid_payload"),
    ("unknown status", _with(["status"], "pending"), "invalid_payload"),
    ("no receiver", _without("receiver"), "invalid_payload"),
    ("groupKey a number", _with(["groupKey"], 7), "invalid_payload"),
    ("labels with a number", _with(["alerts", 0, "labels"], {"alertname": "X", "severity": 2}), "invalid_payload"),
    ("labels missing", _without("labels", 0), "invalid_payload"),
    ("annotations a list", _with(["alerts", 0, "annotations"], ["summary"]), "invalid_payload"),
    ("startsAt not a time", _with(["alerts", 0, "startsAt"], "yesterday"), "invalid_payload"),
    ("fingerprint missing", _without("fingerprint", 0), "invalid_payload"),
    ("alert status unknown", _with(["alerts", 0, "status"], "silenced"), "invalid_payload"),
    ("truncatedAlerts negative", _with(["truncatedAlerts"], -1), "invalid_payload"),
    ("truncatedAlerts boolean", _with(["truncatedAlerts"], True), "invalid_payload"),
]


@pytest.mark.parametrize("name, body, reason", BAD_PAYLOADS, ids=[case[0] for case in BAD_PAYLOADS])
def test_malformed_payloads_get_400_with_a_sentence_and_nothing_is_stored(client, name, body, reason):
    before = sample("inbox_webhooks_rejected_total", reason=reason)
    data = body if isinstance(body, bytes) else json.dumps(body)
    response = client.post("/webhook", data=data, content_type="application/json")
    assert response.status_code == 400, name
    error = response.get_json()
    assert error["error"] == reason
    assert re.match(r"^[A-Z].*\.$", error["message"]), error["message"]
    assert error["request_id"]
    assert sample("inbox_webhooks_rejected_total", reason=reason) == before + 1
    assert client.get("/api/alerts").get_json()["count"] == 0


def test_oversized_body_gets_413(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "MAX_CONTENT_LENGTH": 4096,
                      "WEBHOOK_TOKEN": WEBHOOK_TOKEN})
    client = authorised_client(app)
    before = sample("inbox_webhooks_rejected_total", reason="too_large")
    big = payload(alert(description="x" * 5000))
    response = client.post("/webhook", json=big)
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large" and "4096 bytes" in response.get_json()["message"]
    assert sample("inbox_webhooks_rejected_total", reason="too_large") == before + 1
    assert client.post("/webhook", json=payload()).status_code == 200


def test_severity_metric_label_is_bounded(client):
    odd = alert("Odd", severity="sev1-from-a-stranger")
    none = alert("NoSeverity")
    del none["labels"]["severity"]
    before_other = sample("inbox_alerts_received_total", status="firing", severity="other")
    before_none = sample("inbox_alerts_received_total", status="firing", severity="none")
    assert client.post("/webhook", json=payload(odd, none)).status_code == 200
    assert sample("inbox_alerts_received_total", status="firing", severity="other") == before_other + 1
    assert sample("inbox_alerts_received_total", status="firing", severity="none") == before_none + 1
    assert sample("inbox_alerts_received_total", status="firing", severity="sev1-from-a-stranger") == 0
    # The stored alert keeps the label exactly as sent; only the metric label is bounded.
    assert client.get("/api/alerts?alertname=Odd").get_json()["alerts"][0]["labels"]["severity"] == \
        "sev1-from-a-stranger"


@pytest.mark.parametrize("query", ["status=pending", "since=yesterday", "since=nan", "limit=0", "limit=5000",
                                   "limit=ten"])
def test_bad_filters_get_400(client, query):
    for path in ("/api/alerts", "/api/notifications", "/"):
        response = client.get(f"{path}?{query}", headers={"Accept": "application/json"})
        assert response.status_code == 400, (path, query)
        assert response.get_json()["error"] == "invalid_filter"


@pytest.mark.parametrize("query", ["status=", "alertname=", "since=", "limit=", "before=", "since=-5", "since=1_000",
                                   "since=%20100", "limit=%D9%A3", "before=%C2%B2"])
def test_the_api_refuses_empty_and_non_ascii_filters(client, query):
    for path in ("/api/alerts", "/api/notifications"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_filter", \
            f"{path}?{query} answered {response.status_code}: an empty or odd filter must be a 400, not ignored"


def test_the_page_reads_blank_form_fields_as_no_filter(client):
    client.post("/webhook", json=payload(alert("ShopOrdersDropped")))
    response = client.get("/?alertname=&status=&since=&limit=&refresh=0")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert "ShopOrdersDropped" in response.get_data(as_text=True), "a blank filter form hid every notification"


def test_page_shows_newest_first_with_badges_annotations_and_runbook(client):
    first = alert("ShopOrdersDropped", severity="warning")
    second = alert("ShopPaymentsErrorRatioHigh", status="resolved",
                   summary="<script>alert(1)</script>", runbook_url="javascript:alert(1)")
    client.post("/webhook", json=payload(first))
    client.post("/webhook", json=payload(second))
    response = client.get("/", base_url="http://localhost:8002")  # where a browser reaches the default stack
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert html.index("ShopPaymentsErrorRatioHigh") < html.index("ShopOrdersDropped")
    assert 'class="badge resolved"' in html and 'class="badge firing"' in html
    assert "ShopOrdersDropped summary" in html and "ShopOrdersDropped is firing." in html
    assert 'href="http://localhost:8002/runbooks#shopordersdropped"' in html
    assert '<code>severity="warning"</code>' in html
    assert re.search(r"received \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", html)
    assert '<meta http-equiv="refresh"' in html
    # Annotations are text, never markup or script links.
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    filtered = client.get("/?alertname=ShopOrdersDropped&refresh=0").get_data(as_text=True)
    assert "ShopPaymentsErrorRatioHigh" not in filtered.split("<main>")[1] and "http-equiv" not in filtered


def test_empty_page_says_what_will_appear(client):
    html = client.get("/").get_data(as_text=True)
    assert "No notifications yet" in html


def test_runbooks_page_anchors_are_lower_case_alert_names(inbox_app, client, tmp_path):
    (tmp_path / "runbooks.md").write_text(
        "# Runbooks\n\n## ShopPaymentsErrorRatioHigh\n\nOpen the **Payments** panel. Check:\n- errors\n- latency\n\n"
        "## `ShopTargetDown`\n\n```\nup == 0\n```\n\n## Notes\n\n## Notes\n\n<script>alert(1)</script>\n")
    response = client.get("/runbooks")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<h2 id="shoppaymentserrorratiohigh">ShopPaymentsErrorRatioHigh</h2>' in html
    assert '<h2 id="shoptargetdown"><code>ShopTargetDown</code></h2>' in html
    assert "<strong>Payments</strong>" in html and "<code>up == 0" in html
    assert "<li>errors</li>" in html  # CommonMark, as GitHub renders the file: a list may follow a line directly
    assert 'id="notes"' in html and 'id="notes-1"' in html
    assert "<script>alert(1)</script>" not in html
    (tmp_path / "runbooks.md").write_text("## ShopMemoryGrowth\n")
    os.utime(tmp_path / "runbooks.md", ns=(1, 2))  # a new mtime, whatever the clock's resolution
    assert 'id="shopmemorygrowth"' in client.get("/runbooks").get_data(as_text=True)


def test_runbooks_page_explains_a_missing_file(client, tmp_path):
    response = client.get("/runbooks")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "The runbooks file was not found at" in html and str(tmp_path / "runbooks.md") in html


def test_runbooks_default_to_the_repository_file():
    assert str(runbooks.DEFAULT_PATH) == os.path.join(REPO, "docs", "runbooks.md")
    assert runbooks.heading_id("ShopReconcileJobStale") == "shopreconcilejobstale"
    assert runbooks.heading_id("How to read a runbook") == "how-to-read-a-runbook"


def test_every_alert_runbook_link_lands_on_a_heading_of_the_repository_runbooks(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})  # default path: docs/runbooks.md
    html = app.test_client().get("/runbooks").get_data(as_text=True)
    links = set()
    for rules_file in glob.glob(os.path.join(REPO, "prometheus", "rules", "*.yml")):
        with open(rules_file) as rules:
            for group in yaml.safe_load(rules)["groups"]:
                links.update((rule["alert"], rule["annotations"]["runbook_url"])
                             for rule in group["rules"] if "alert" in rule)
    assert len({name for name, _ in links}) >= 11, links  # every alert of docs/architecture.md
    for name, url in sorted(links):
        page, _, anchor = url.partition("#")
        assert page == "http://localhost:8002/runbooks" and anchor == name.lower(), (name, url)
        assert f'id="{anchor}"' in html, f"{name}: no heading with id {anchor} in docs/runbooks.md"


def test_metrics_health_and_wrong_methods(client):
    client.get("/")
    text = client.get("/metrics").get_data(as_text=True)
    for name in INBOX_METRICS:
        assert f"# TYPE {name.removesuffix('_total')}" in text, name
    assert 'inbox_http_request_duration_seconds_count{code="200",method="GET",route="/"}' in text
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "inbox"}
    response = client.get("/webhook")
    assert response.status_code == 405 and response.headers["Allow"]
