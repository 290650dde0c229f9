"""The trace backend for real: the cached Zipkin jar with the launcher's own command line (launcher/zipkin.py).

It must take a span in Zipkin's v2 JSON (what the OpenTelemetry SDK's Zipkin exporter sends), give it back by
trace id, serve its UI and its own metrics, and listen on loopback only.
"""
import os
import secrets
import time

import pytest
import requests

from launcher import upstream_jar, zipkin
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until

START_SECONDS = 90  # healthy after 6-8 s alone; a JVM on two cores shared with other tests can take much longer
LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


@pytest.fixture(scope="module")
def zipkin_url(tmp_path_factory):
    """Zipkin on a free loopback port, exactly as the launcher starts it; stopped by its pid whatever happens."""
    port = free_port()
    log = tmp_path_factory.mktemp("zipkin") / "zipkin.log"
    process = ManagedProcess("zipkin", zipkin.command(port), {**os.environ, **zipkin.environment()}, str(log))
    url = f"http://127.0.0.1:{port}"
    try:
        process.start()

        def healthy():
            assert process.running(), f"Zipkin exited:\n{process.log_tail()}"
            return requests.get(url + "/health", timeout=2).ok
        poll_until(healthy, "Zipkin to answer /health", START_SECONDS)
        yield url
    finally:
        process.stop()


def listening_addresses(port):
    """The local addresses (hex, as /proc/net/tcp* writes them) of the sockets listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for fields in (row.split() for row in rows):
                address, _, hex_port = fields[1].rpartition(":")
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.add(address)
    return found


def test_a_span_posted_in_v2_json_comes_back_by_its_trace_id(zipkin_url):
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    span = {"traceId": trace_id, "id": span_id, "name": "get /products/<int:product_id>", "kind": "SERVER",
            "timestamp": int(time.time() * 1e6), "duration": 12_345, "localEndpoint": {"serviceName": "shop"},
            "tags": {"http.method": "GET", "http.status_code": "200"}}
    response = requests.post(zipkin_url + "/api/v2/spans", json=[span], timeout=10)
    assert response.status_code == 202, response.text
    trace = poll_until(lambda: requests.get(f"{zipkin_url}/api/v2/trace/{trace_id}", timeout=5).json(),
                       f"trace {trace_id} to be readable", 10)
    assert [(s["id"], s["name"], s["localEndpoint"]["serviceName"], s["duration"]) for s in trace] == [
        (span_id, span["name"], "shop", 12_345)]
    assert "shop" in requests.get(zipkin_url + "/api/v2/services", timeout=5).json()


def test_it_is_the_release_env_pins(zipkin_url):
    assert requests.get(zipkin_url + "/info", timeout=10).json()["zipkin"]["version"] == upstream_jar.pinned_version()


def test_its_ui_and_its_own_metrics_answer(zipkin_url):
    # The UI's start page, and a trace's own page (the README links /zipkin/traces/TRACE_ID).
    for page in ("/zipkin/", f"/zipkin/traces/{secrets.token_hex(16)}"):
        ui = requests.get(zipkin_url + page, timeout=10)
        assert ui.status_code == 200 and "text/html" in ui.headers["Content-Type"], (page, ui.status_code)
    metrics = requests.get(zipkin_url + "/prometheus", timeout=10)
    assert metrics.status_code == 200 and "zipkin_collector_spans_total" in metrics.text


def test_it_listens_on_loopback_only(zipkin_url):
    port = int(zipkin_url.rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    assert addresses and addresses <= LOOPBACK, f"Zipkin listens on {addresses} (hex), not only on loopback."
