"""The dead man's switch in the inbox: heartbeats from Alertmanager's Watchdog, and the banner when they stop.

Through the Flask test client; the real pipeline (Prometheus -> Alertmanager -> inbox, and breaking it) is
tests/stack/test_alerting_e2e.py and the drill's alerting-pipeline-broken scenario.
"""
import time

import pytest

from app.inbox import create_app, heartbeat
from app.inbox.db import inbox_store
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.metrics_reading import sample

TOKEN = "inbox-test-token"
BROKEN = "Alerting pipeline broken"


def watchdog(status="firing"):
    """The Watchdog notification as Alertmanager's heartbeat route posts it."""
    return payload(alert("Watchdog", status=status, severity="info"))


def inbox(tmp_path, started_seconds_ago=0.0, late_after=90):
    """An inbox app started some time ago, with Alertmanager's token on its test client."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": TOKEN,
                      "RUNBOOKS_PATH": str(tmp_path / "runbooks.md"), "HEARTBEAT_LATE_SECONDS": late_after,
                      "STARTED_AT": time.time() - started_seconds_ago})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return app, client


def test_a_heartbeat_is_noted_and_never_listed_as_an_alert(tmp_path):
    app, client = inbox(tmp_path)
    before = sample("inbox_heartbeats_received_total")
    response = client.post("/heartbeat", json=watchdog())
    assert response.status_code == 200 and response.get_json()["status"] == "noted"
    assert sample("inbox_heartbeats_received_total") == before + 1
    state = client.get("/api/heartbeat").get_json()
    assert state["status"] == "ok" and state["late"] is False and 0 <= state["age_seconds"] < 5
    assert client.get("/api/alerts").get_json()["alerts"] == []
    assert client.get("/api/notifications").get_json()["notifications"] == []
    page = client.get("/").get_data(as_text=True)
    assert "Alerting pipeline: last heartbeat 0 s ago." in page and BROKEN not in page


def test_a_fresh_inbox_waits_for_the_first_heartbeat_without_alarm(tmp_path):
    _app, client = inbox(tmp_path)
    assert client.get("/api/heartbeat").get_json() == {
        "status": "waiting", "late": False, "last_seen": None, "age_seconds": None, "late_after_seconds": 90.0}
    assert "waiting for the first heartbeat" in client.get("/").get_data(as_text=True)


def test_no_heartbeat_for_longer_than_the_threshold_shows_the_banner_and_the_metric(tmp_path):
    """The switch trips: an old heartbeat (or none since the start) turns every page red and the gauge to 1."""
    app, client = inbox(tmp_path, started_seconds_ago=600)
    store = inbox_store(app)
    store.clock = lambda: time.time() - 120  # the last heartbeat arrived two minutes ago
    client.post("/heartbeat", json=watchdog())
    state = client.get("/api/heartbeat").get_json()
    assert state["status"] == "late" and state["late"] is True and 120 <= state["age_seconds"] < 130
    for path in ("/", "/runbooks"):
        page = client.get(path).get_data(as_text=True)
        assert BROKEN in page and "The last heartbeat arrived 2 min" in page, path
    client.get("/metrics")
    assert sample("inbox_watchdog_late") == 1
    assert sample("inbox_watchdog_last_seen_timestamp_seconds") == pytest.approx(time.time() - 120, abs=10)

    store.clock = time.time  # the pipeline works again: the next heartbeat clears the banner
    client.post("/heartbeat", json=watchdog())
    assert BROKEN not in client.get("/").get_data(as_text=True)
    client.get("/metrics")
    assert sample("inbox_watchdog_late") == 0


def test_an_inbox_that_never_got_a_heartbeat_is_late_after_the_threshold(tmp_path):
    _app, client = inbox(tmp_path, started_seconds_ago=100, late_after=90)
    assert client.get("/api/heartbeat").get_json()["status"] == "late"
    assert "No heartbeat arrived since the inbox started" in client.get("/").get_data(as_text=True)


def test_a_restarted_inbox_gives_an_old_heartbeat_a_full_threshold(tmp_path):
    """After a restart the inbox waits a full threshold before calling a heartbeat from before it late."""
    app, client = inbox(tmp_path, started_seconds_ago=10)
    inbox_store(app).clock = lambda: time.time() - 3600
    client.post("/heartbeat", json=watchdog())
    assert client.get("/api/heartbeat").get_json()["status"] == "waiting"


def test_a_resolved_watchdog_is_not_a_sign_of_life(tmp_path):
    _app, client = inbox(tmp_path)
    response = client.post("/heartbeat", json=watchdog("resolved"))
    assert response.get_json() == {"status": "ignored", "reason": "resolved"}
    assert client.get("/api/heartbeat").get_json()["last_seen"] is None


@pytest.mark.parametrize("headers, body, status", [
    ({"Authorization": "Bearer wrong"}, watchdog(), 401),
    ({}, {"version": "4"}, 400),
])
def test_heartbeats_are_held_to_the_webhooks_rules(tmp_path, headers, body, status):
    """Only Alertmanager may beat: the same token and payload checks as /webhook, each a clear 4xx."""
    _app, client = inbox(tmp_path)
    response = client.post("/heartbeat", json=body, headers=headers)
    assert response.status_code == status and response.get_json()["message"].endswith(".")
    assert client.get("/api/heartbeat").get_json()["last_seen"] is None


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (12.4, "12 s"), (60, "1 min"), (185, "3 min 5 s"),
                                           (3600, "1 h"), (7800, "2 h 10 min")])
def test_ages_read_like_people_say_them(seconds, text):
    assert heartbeat.format_duration(seconds) == text


FAULT_TOKEN = "fault-test-token"


def test_refuse_webhooks_breaks_the_pipeline_and_nothing_else(tmp_path):
    """The alerting-pipeline-broken knob: 503 to Alertmanager's posts, the banner and the admin API still up."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": TOKEN,
                      "FAULT_TOKEN": FAULT_TOKEN, "RUNBOOKS_PATH": str(tmp_path / "runbooks.md"),
                      "STARTED_AT": time.time() - 600})
    client = app.test_client()
    admin = {"Authorization": f"Bearer {FAULT_TOKEN}"}
    webhook = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/heartbeat", json=watchdog(), headers=webhook).status_code == 200
    before = sample("inbox_webhooks_rejected_total", reason="unavailable")

    assert client.put("/admin/faults/refuse_webhooks", json={"duration_seconds": 60}, headers=admin).status_code == 200
    for path, body in (("/heartbeat", watchdog()), ("/webhook", payload(alert()))):
        refused = client.post(path, json=body, headers=webhook)
        assert refused.status_code == 503 and refused.get_json()["error"] == "unavailable", path
        assert refused.headers["Retry-After"] == "30"
    assert sample("inbox_webhooks_rejected_total", reason="unavailable") == before + 2
    assert client.get("/api/alerts").status_code == 200 and client.get("/api/heartbeat").status_code == 200
    assert client.put("/admin/faults/refuse_webhooks", headers={"Authorization": "Bearer wrong"}).status_code == 401

    assert client.delete("/admin/faults/refuse_webhooks", headers=admin).status_code == 200
    assert client.post("/heartbeat", json=watchdog(), headers=webhook).status_code == 200
