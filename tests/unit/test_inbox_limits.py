"""Who may write to the inbox and how much it keeps: the webhook token, JSON only, the caps, paging, retention.

Chunked bodies over the limit need a real server: tests/process/test_inbox_gunicorn.py.
"""
import json

import pytest

from app.inbox import create_app
from app.inbox.db import Store
from app.inbox.payload import parse_notification
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import sample

TOKEN = "inbox-limits-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def inbox_app(tmp_path):
    """An inbox with a webhook token, a small alert cap and small pages."""
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": TOKEN,
                       "MAX_ALERTS_PER_NOTIFICATION": 5})


@pytest.fixture
def client(inbox_app):
    """A test client without any credentials (each test sends what it means to)."""
    return inbox_app.test_client()


def stored(client):
    """How many alerts the inbox holds."""
    return client.get("/api/alerts?limit=1000").get_json()["count"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": "Basic " + TOKEN}], ids=["none", "wrong", "no scheme", "basic"])
def test_webhook_without_the_token_is_refused_and_nothing_is_stored(client, headers):
    before = sample("inbox_webhooks_rejected_total", reason="unauthorized")
    response = client.post("/webhook", json=payload(), headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert sample("inbox_webhooks_rejected_total", reason="unauthorized") == before + 1
    assert stored(client) == 0


def test_webhook_without_a_configured_token_refuses_everyone(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "WEBHOOK_TOKEN": ""})
    assert_error(app.test_client().post("/webhook", json=payload(), headers={"Authorization": "Bearer "}),
                 401, "unauthorized")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_webhook_takes_json_only(client, content_type):
    """A page on another site can post text/plain without a preflight: such a body is never stored."""
    headers = dict(AUTH) | ({"Content-Type": content_type} if content_type else {})
    response = client.post("/webhook", data=json.dumps(payload()), headers=headers)
    assert_error(response, 415, "unsupported_media_type")
    assert stored(client) == 0


def test_more_alerts_than_the_cap_get_413_and_the_cap_itself_is_stored(client):
    too_many = payload(*[alert(f"A{index}") for index in range(6)])
    before = sample("inbox_webhooks_rejected_total", reason="too_many_alerts")
    response = client.post("/webhook", json=too_many, headers=AUTH)
    assert_error(response, 413, "too_many_alerts")
    assert "at most 5 alerts" in response.get_json()["message"]
    assert sample("inbox_webhooks_rejected_total", reason="too_many_alerts") == before + 1
    assert stored(client) == 0
    assert client.post("/webhook", json=payload(*[alert(f"A{i}") for i in range(5)]), headers=AUTH).status_code == 200


def test_json_api_pages_backwards_until_the_last_page(client):
    for index in range(5):
        assert client.post("/webhook", json=payload(alert(f"Page{index}")), headers=AUTH).status_code == 200
    seen, before = [], None
    for _ in range(3):
        query = "/api/alerts?limit=2" + (f"&before={before}" if before else "")
        page = client.get(query).get_json()
        seen += [a["alertname"] for a in page["alerts"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == [f"Page{index}" for index in reversed(range(5))]
    first = client.get("/api/notifications?limit=3").get_json()
    rest = client.get(f"/api/notifications?limit=3&before={first['next_before']}").get_json()
    assert first["count"] == 3 and rest["count"] == 2 and rest["next_before"] is None
    assert_error(client.get("/api/alerts?before=x"), 400, "invalid_filter")


def test_page_shows_a_bounded_number_of_notifications_with_a_link_to_older_ones(client):
    for index in range(25):
        client.post("/webhook", json=payload(alert(f"Old{index:02d}")), headers=AUTH)
    html = client.get("/?refresh=0").get_data(as_text=True)
    assert "Old24" in html and "Old05" in html and "Old04" not in html
    older = client.get("/?refresh=0&before=6").get_data(as_text=True)
    assert "Old04" in older and "Old00" in older and "Older notifications" not in older
    assert 'href="/?refresh=0&amp;before=6"' in html
    assert_error(client.get("/?limit=101", headers={"Accept": "application/json"}), 400, "invalid_filter")


def test_refresh_with_a_superscript_digit_falls_back_to_the_default(client):
    response = client.get("/?refresh=%C2%B2")  # '²'.isdigit() is True, int('²') raises
    assert response.status_code == 200 and 'content="10"' in response.get_data(as_text=True)


def test_retention_drops_old_and_surplus_notifications_with_their_alerts(tmp_path):
    now = [1_000_000.0]
    store = Store(str(tmp_path), clock=lambda: now[0], max_age_seconds=100, max_notifications=3)
    notification = parse_notification(payload(alert("A"), alert("B")))
    for _ in range(5):
        store.add(notification)
    assert [n["id"] for n in store.notifications()] == [5, 4, 3]
    assert len(store.alerts(limit=-1)) == 6
    now[0] += 101
    store.add(notification)
    assert [n["id"] for n in store.notifications()] == [6]
    assert {a["notification_id"] for a in store.alerts(limit=-1)} == {6}


def test_retention_is_configurable_from_the_app(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "WEBHOOK_TOKEN": TOKEN,
                      "RETENTION_NOTIFICATIONS": 2})
    client = app.test_client()
    for index in range(4):
        client.post("/webhook", json=payload(alert(f"R{index}")), headers=AUTH)
    assert [a["alertname"] for a in client.get("/api/alerts").get_json()["alerts"]] == ["R3", "R2"]
