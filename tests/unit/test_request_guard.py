"""Host and Origin checks (app/common/request_guard.py) on the shop's and payments' admin API and the inbox.

The audit's attacks, replayed: a DNS-rebinding page (its own name in Host), a
cross-site write (another site in Origin), framing. Non-browser clients (no
Origin) and the services' own names keep working. The console: tests/unit/loadgen.
"""
import pytest

from app.common.request_guard import RequestGuard, allowed_hosts_from_env
from app.inbox import create_app as create_inbox
from tests.helpers.alert_payloads import payload
from tests.helpers.errors import assert_error
from tests.helpers.servers import TEST_TOKEN

ADMIN = {"Authorization": f"Bearer {TEST_TOKEN}"}
REBINDING_HOST = "rebind.attacker.example:8000"


@pytest.fixture(params=["shop", "payments"])
def admin_client(request, shop_app, payments_app):
    """A test client of a service with an admin API (Flask's test client sends Host: localhost)."""
    return (shop_app if request.param == "shop" else payments_app).test_client()


@pytest.fixture
def inbox_client(tmp_path):
    """An inbox with a webhook token."""
    return create_inbox({"TESTING": True, "DATA_DIR": str(tmp_path), "WEBHOOK_TOKEN": TEST_TOKEN}).test_client()


def test_admin_api_refuses_a_rebinding_host_even_with_the_token(admin_client):
    assert_error(admin_client.get("/admin/faults", headers=ADMIN | {"Host": REBINDING_HOST}), 400, "host_not_allowed")
    assert_error(admin_client.delete("/admin/faults", headers=ADMIN | {"Host": REBINDING_HOST}),
                 400, "host_not_allowed")


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST", "localhost"])
def test_admin_api_answers_loopback_names(admin_client, host):
    assert admin_client.get("/admin/faults", headers=ADMIN | {"Host": host}).status_code == 200


@pytest.mark.parametrize("origin", ["http://attacker.example", "http://localhost:3000", "null",
                                    "https://localhost:8000", "http://localhost:8000.attacker.example"])
def test_admin_write_from_another_origin_gets_403_json(admin_client, origin):
    response = admin_client.delete("/admin/faults", headers=ADMIN | {"Host": "localhost:8000", "Origin": origin})
    assert_error(response, 403, "cross_origin")


def test_admin_write_from_the_same_origin_or_no_browser_is_accepted(admin_client):
    headers = ADMIN | {"Host": "localhost:8000"}
    same_origin = headers | {"Origin": "http://localhost:8000"}
    assert admin_client.delete("/admin/faults", headers=same_origin).status_code == 200
    assert admin_client.delete("/admin/faults", headers=headers).status_code == 200


def test_metrics_and_health_answer_any_host(admin_client):
    """Prometheus scrapes by IP in compose (DNS discovery); neither endpoint changes anything."""
    for path in ("/metrics", "/healthz"):
        assert admin_client.get(path, headers={"Host": "172.18.0.5:8000"}).status_code == 200


def test_inbox_refuses_rebinding_hosts_and_cross_site_posts(inbox_client):
    assert_error(inbox_client.get("/api/alerts", headers={"Host": "rebind.attacker.example:8002"}),
                 400, "host_not_allowed")
    assert inbox_client.get("/", headers={"Host": "rebind.attacker.example:8002"}).status_code == 400
    cross = inbox_client.post("/webhook", json=payload(), headers={
        "Authorization": f"Bearer {TEST_TOKEN}", "Host": "localhost:8002", "Origin": "http://evil.example"})
    assert_error(cross, 403, "cross_origin")
    assert inbox_client.get("/api/alerts").get_json()["count"] == 0


def test_inbox_answers_the_names_in_allowed_hosts(tmp_path, monkeypatch):
    """In compose, Alertmanager posts to http://inbox:8002 (ALLOWED_HOSTS=inbox)."""
    monkeypatch.setenv("ALLOWED_HOSTS", "inbox, Other")
    client = create_inbox({"TESTING": True, "DATA_DIR": str(tmp_path), "WEBHOOK_TOKEN": TEST_TOKEN}).test_client()
    response = client.post("/webhook", json=payload(), headers={"Authorization": f"Bearer {TEST_TOKEN}",
                                                                 "Host": "inbox:8002"})
    assert response.status_code == 200
    assert client.get("/api/alerts", headers={"Host": "other"}).status_code == 200


def test_pages_may_not_be_framed(inbox_client, shop_app):
    for response in (inbox_client.get("/"), inbox_client.get("/runbooks"), shop_app.test_client().get("/")):
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_allowed_hosts_parse_and_the_default_guards_only_the_admin_api():
    assert allowed_hosts_from_env({"ALLOWED_HOSTS": " shop,,Payments "}) == {"shop", "payments"}
    guard = RequestGuard(paths=("/admin/",))
    assert guard.guards("/admin/faults") and not guard.guards("/") and not guard.guards("/metrics")
    assert RequestGuard().guards("/api/alerts") and not RequestGuard().guards("/healthz")
