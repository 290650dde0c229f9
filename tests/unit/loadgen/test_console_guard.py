"""The demo console against the audit's attacks: DNS rebinding, cross-site writes, framing, bad bodies, idle sockets.

The load generator points at ports nothing listens on: every request here is
refused (or answered) before a service would be called. The console driving
real services: tests/process/loadgen/test_api.py.
"""
import socket
import threading

import pytest
import requests

from loadgen.config import Urls
from loadgen.console import create_app
from loadgen.runner import ConsoleServer
from loadgen.state import build_state
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.errors import assert_error

MAX_BODY_BYTES = 64 * 1024  # loadgen/console/__init__.py: the console's requests are a few small JSON objects


@pytest.fixture
def state():
    """A load generator whose services are all unreachable, traffic off."""
    dead = {name: f"http://127.0.0.1:{free_port()}" for name in ("shop", "payments", "inbox")}
    loadgen = build_state(Urls(**dead, fault_token="t"), rate=0)
    yield loadgen
    loadgen.manager.close()


@pytest.fixture
def client(state):
    """The console's test client (Flask sends Host: localhost)."""
    return create_app(state).test_client()


def test_a_rebinding_host_is_refused_for_pages_and_api(client):
    """The audit: with Host rebind.attacker.example:8089 a POST started payments-errors."""
    host = {"Host": "rebind.attacker.example:8089"}
    assert_error(client.post("/api/scenarios/payments-errors", json={}, headers=host), 400, "host_not_allowed")
    assert_error(client.put("/api/rate", json={"rate": 50}, headers=host), 400, "host_not_allowed")
    assert_error(client.get("/api/status", headers=host), 400, "host_not_allowed")
    assert client.get("/", headers=host).status_code == 400
    assert client.get("/metrics", headers=host).status_code == 200
    assert client.get("/healthz", headers=host).status_code == 200


def test_a_write_from_another_site_is_refused_with_403(client, state):
    response = client.put("/api/rate", json={"rate": 50},
                          headers={"Host": "localhost:8089", "Origin": "http://attacker.example"})
    assert_error(response, 403, "cross_origin")
    assert state.traffic.target_rate() == 0
    same = client.put("/api/rate", json={"rate": 0.5}, headers={"Host": "localhost:8089",
                                                                "Origin": "http://localhost:8089"})
    assert same.status_code == 200 and state.traffic.target_rate() == 0.5


def test_the_console_may_not_be_framed(client):
    for path in ("/", "/api/status"):
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("body", [b"{", b"[" * 20_000 + b"]" * 20_000, b"\xff", b"{'rate': 1}"],
                         ids=["unclosed", "deeply nested", "not utf-8", "single quotes"])
def test_an_unparsable_body_gets_400_and_starts_nothing(client, state, body):
    """The audit: a body of `{` started a scenario; deeply nested JSON gave a 500."""
    response = client.post("/api/scenarios/payments-errors", data=body, content_type="application/json")
    assert_error(response, 400, "invalid_json")
    assert state.manager.active() == []
    assert_error(client.put("/api/rate", data=body, content_type="application/json"), 400, "invalid_json")


@pytest.mark.parametrize("method, path", [("POST", "/api/scenarios/payments-errors"), ("PUT", "/api/rate"),
                                          ("DELETE", "/api/scenarios/payments-errors"), ("DELETE", "/api/scenarios")])
@pytest.mark.parametrize("body", [b"", b"  \n", b"\x00"], ids=["empty", "blank", "nul"])
def test_every_change_needs_a_json_object_even_a_stop(client, method, path, body):
    response = client.open(path, method=method, data=body, content_type="application/json")
    assert_error(response, 400, "invalid_json")


def test_a_null_duration_is_refused_not_read_as_the_default(client, state):
    response = client.post("/api/scenarios/payments-errors", json={"duration_seconds": None})
    assert_error(response, 400, "scenario_not_started")
    assert state.manager.active() == []


@pytest.mark.parametrize("limit", ["ten", "", "%D9%A3", "0", "101", "-1"])
def test_a_bad_notifications_limit_is_refused_not_replaced(client, limit):
    assert_error(client.get(f"/api/notifications?limit={limit}"), 400, "invalid_limit")


def test_a_body_over_the_limit_gets_413(client):
    big = b'{"rate": 1, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = client.put("/api/rate", data=big, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"] == "request_entity_too_large"


def _idle_connection(port):
    """A connected socket that never sends a request."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_idle_connections_are_bounded_and_time_out(state):
    """The audit: 300 idle connections made 300 threads. Here at most 4, and they are closed after 1 s."""
    server = ConsoleServer(create_app(state), "127.0.0.1", 0, max_threads=4, timeout=1.0).start()
    url = f"http://127.0.0.1:{server.port}"
    before = threading.active_count()
    sockets = []
    try:
        sockets = [_idle_connection(server.port) for _ in range(12)]
        # Each connection over the limit is answered 503 and closed at once.
        refused = poll_until(lambda: [s for s in sockets[4:] if s.recv(1024).startswith(b"HTTP/1.1 503")],
                             "the connections over the limit to be answered 503", 5)
        assert len(refused) == 8
        assert threading.active_count() - before <= 4
        # The idle ones are closed by the server after its socket timeout (recv returns b"").
        for sock in sockets[:4]:
            sock.settimeout(5)
            assert sock.recv(1024) == b""
        poll_until(lambda: requests.get(url + "/healthz", timeout=2).ok, "the console to answer again", 5)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
