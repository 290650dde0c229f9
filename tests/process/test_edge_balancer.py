"""The compose front door (deploy/edge_balancer.py) as a real process in front of a real HTTP server.

It passes requests through, closes connections that stay idle past --idle-timeout
(while a slow but active one lives on), and serves at most --max-connections at once.
"""
import socket
import subprocess
import sys
import time

import pytest
from flask import Flask

from processes.managed import ManagedProcess, stop_all
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.paths import REPO
from tests.helpers.servers import ThreadedServer

IDLE_TIMEOUT = 1.0
MAX_CONNECTIONS = 3


@pytest.fixture()
def upstream():
    app = Flask(__name__)

    @app.get("/hello")
    def hello():
        return "hello from upstream"

    with ThreadedServer(app) as server:
        yield server


@pytest.fixture()
def start_edge(upstream, tmp_path):
    """Start the balancer in front of `upstream` with the given idle timeout; stopped by id at the end."""
    started = []

    def start(idle_timeout=IDLE_TIMEOUT):
        port = free_port()
        command = [sys.executable, str(REPO / "deploy" / "edge_balancer.py"), "--listen", f"127.0.0.1:{port}",
                   "--upstream", f"127.0.0.1:{upstream.port}", "--idle-timeout", str(idle_timeout),
                   "--max-connections", str(MAX_CONNECTIONS)]
        process = ManagedProcess("edge", command, env=None, log_path=tmp_path / f"edge-{port}.log").start()
        started.append(process)
        poll_until(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                   "the edge balancer to listen", timeout=15)
        return port, process

    try:
        yield start
    finally:
        stop_all(started)


@pytest.fixture()
def edge(start_edge):
    return start_edge()


def get_over(sock):
    """Send one HTTP/1.1 GET /hello on an open socket and return the raw answer."""
    sock.sendall(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def closed_by_peer(sock, within):
    """True when the peer closes the socket within `within` seconds (recv returns b'' or resets)."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_edge_passes_requests_through(edge):
    port, _process = edge
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        answer = get_over(sock)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello from upstream"), answer[:300]


def test_idle_connection_is_closed_after_the_idle_timeout(edge):
    port, _process = edge
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as idle:
        assert closed_by_peer(idle, within=IDLE_TIMEOUT + 10), \
            f"an idle connection was still open {IDLE_TIMEOUT + 10:g} s later (--idle-timeout {IDLE_TIMEOUT:g})"
    assert time.monotonic() - started >= IDLE_TIMEOUT * 0.9, "the edge closed a connection before it was idle"


def test_connection_that_keeps_sending_outlives_the_idle_timeout(edge):
    port, _process = edge
    request = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    pieces = 6  # one every half idle timeout: three idle timeouts in all, never idle for a whole one
    size = -(-len(request) // pieces)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as slow:
        for offset in range(0, len(request) - size, size):
            slow.sendall(request[offset:offset + size])
            assert not closed_by_peer(slow, within=IDLE_TIMEOUT / 2), \
                "the edge closed a connection that sent part of its request every half idle timeout"
        slow.sendall(request[offset + size:])
        slow.settimeout(5)
        answer = b""
        while chunk := slow.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello from upstream"), answer[:300]


def test_connections_over_the_limit_are_closed_and_the_limit_frees_up(start_edge):
    port, process = start_edge(idle_timeout=120)  # the held connections must not idle out during the test
    # Accepted in order (the listen queue is first in, first out), so these are counted before the extra one.
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(MAX_CONNECTIONS)]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            assert closed_by_peer(extra, within=10), \
                f"connection {MAX_CONNECTIONS + 1} was kept open with --max-connections {MAX_CONNECTIONS}"
        poll_until(lambda: "refused a connection" in open(process.log_path).read(),
                   "the edge to log the refused connection", timeout=5)
    finally:
        for sock in held:
            sock.close()
    answer = poll_until(lambda: get_over(socket.create_connection(("127.0.0.1", port), timeout=5)),
                        "a new connection to be served once the held ones closed", timeout=10)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


@pytest.mark.parametrize("option", [["--idle-timeout", "0"], ["--idle-timeout", "nan"], ["--max-connections", "0"]])
def test_bad_limits_are_refused_by_name(option):
    result = subprocess.run([sys.executable, str(REPO / "deploy" / "edge_balancer.py"), "--listen", "127.0.0.1:1",
                             "--upstream", "127.0.0.1:2", *option], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and option[0] in result.stderr, result.stderr
