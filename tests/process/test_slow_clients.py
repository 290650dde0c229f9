"""Slow clients (half-sent requests, slowloris) cannot stop a service: real gunicorn, real sockets."""
import socket
import time

import pytest
import requests

from processes.waiting import poll_until
from tests.helpers.metrics_reading import scrape, value
from tests.helpers.servers import start_service

# The promise of issue 13, item 6: with 2 x workers stalled connections open, a health check and a
# normal request still answer within a second (on loopback they take milliseconds when all is well).
ANSWER_WITHIN_SECONDS = 1.0
SERVICES = [
    # service, workers as deployed, a normal request
    ("shop", 2, "/api/products"),
    ("payments", 2, "/quotes?product_id=1&quantity=1"),
    ("inbox", 1, "/api/notifications"),
]


def half_sent_request(url):
    """Open a connection and send a request line and one header, but never the blank line that ends it."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=5)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return connection


def closed_by_server(connection):
    """True once the server has closed the connection (recv sees the end of the stream)."""
    connection.settimeout(0.2)
    try:
        return connection.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize(("service", "workers", "normal_path"), SERVICES, ids=[s[0] for s in SERVICES])
def test_stalled_connections_leave_health_and_requests_answering(tmp_path, service, workers, normal_path):
    process, url = start_service(service, str(tmp_path), {"FAULT_TOKEN": "t"}, workers=workers)
    stalled = []
    try:
        stalled = [half_sent_request(url) for _ in range(2 * workers)]
        for round_number in range(3):
            for path in ("/healthz", normal_path):
                started = time.monotonic()
                try:
                    response = requests.get(url + path, timeout=5)
                except requests.Timeout:
                    pytest.fail(f"{service} {path} did not answer within 5 s while {len(stalled)} "
                                f"half-sent requests were open (round {round_number}).")
                elapsed = time.monotonic() - started
                assert response.status_code == 200, response.text
                assert elapsed < ANSWER_WITHIN_SECONDS, (
                    f"{service} {path} took {elapsed:.2f} s with {len(stalled)} half-sent requests open")
        assert not any(closed_by_server(connection) for connection in stalled), \
            "a stalled connection was closed before its timeout: the test did not hold the threads"
    finally:
        for connection in stalled:
            connection.close()
        process.stop()


def test_a_stalled_connection_is_closed_after_the_connection_timeout(tmp_path):
    process, url = start_service("payments", str(tmp_path), {"FAULT_TOKEN": "t", "CONNECTION_TIMEOUT_SECONDS": "1"})
    connection = half_sent_request(url)
    try:
        # 1 s timeout; the deadline leaves room for a loaded machine, far below gunicorn's 30 s worker timeout.
        poll_until(lambda: closed_by_server(connection), "payments to close a half-sent request", 8)
        assert requests.get(url + "/healthz", timeout=5).ok
        with open(tmp_path / "payments.log") as log:
            text = log.read()
        assert "Traceback" not in text, f"a timed-out client should be one warning line, not a traceback:\n{text}"
    finally:
        connection.close()
        process.stop()


def test_capacity_gauge_counts_worker_processes_not_threads(tmp_path):
    """One interpreter lock per worker: its threads wait in parallel but do not add capacity for our code."""
    process, url = start_service("shop", str(tmp_path), {"FAULT_TOKEN": "t"}, workers=2)
    try:
        assert value(scrape(url), "shop_http_request_capacity") == 2
    finally:
        process.stop()
