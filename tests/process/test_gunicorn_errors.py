"""Errors gunicorn answers itself, before the app sees a request, are JSON like every other error.

gunicorn refuses a request line over limit_request_line (414), oversized headers (431) and a malformed
request (400) on its own; app/common/gunicorn_worker.py makes those answers our JSON errors.
"""
import json
import socket

import pytest

from tests.helpers.servers import start_service


@pytest.fixture(scope="module")
def payments(tmp_path_factory):
    process, url = start_service("payments", str(tmp_path_factory.mktemp("gunicorn-errors")), workers=1)
    try:
        yield int(url.rsplit(":", 1)[1])
    finally:
        process.stop()


def raw_exchange(port, request):
    """Send raw bytes, return (status line, headers dict, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@pytest.mark.parametrize("request_bytes, status, code", [
    (b"GET /quotes?product_id=" + b"1" * 5000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414, "uri_too_long"),
    (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-Pad-%d: 1\r\n" % i for i in range(200))
     + b"\r\n", 431, "request_header_fields_too_large"),
    (b"NOT A REQUEST\r\n\r\n", 400, "bad_request"),
], ids=["long request line", "too many headers", "malformed"])
def test_gunicorn_refusals_are_json_errors(payments, request_bytes, status, code):
    status_line, headers, body = raw_exchange(payments, request_bytes)
    assert status_line.startswith(f"HTTP/1.1 {status} "), status_line
    assert headers.get("content-type") == "application/json", f"{status} answered {headers} {body[:200]!r}"
    error = json.loads(body)
    assert error["error"] == code and error["message"].strip() and error["request_id"] == headers["x-request-id"], error
