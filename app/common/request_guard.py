"""Who may drive a control surface: the Host and Origin checks every service shares.

A browser lets any web page send requests to a loopback port. Two defences
keep such a page from using our admin API, the alert inbox or the demo
console:

* DNS rebinding: a page on `attacker.example` re-points its own name at
  127.0.0.1 and then talks to us "same-origin". The browser still sends
  `Host: attacker.example:PORT`, so only Host names we know are served:
  loopback, plus the names in `ALLOWED_HOSTS` (compose service names where
  containers call each other). IP literals other than loopback are not
  allowed either: a rebinding page never needs them, but nothing else does.
* Cross-site writes (CSRF, a form posted from another page): a browser always
  sends `Origin` with a cross-origin write, so a write whose Origin is not the
  address it was sent to is refused. Clients that are not browsers
  (Alertmanager, the load generator, curl) send no Origin and pass.

Pages also may not be framed by another site (clickjacking), and a body is
read only up to its limit (`bounded_body`), chunked or not.

`/metrics` and `/healthz` stay open to every Host: Prometheus scrapes by IP
address in compose (DNS service discovery), and neither changes anything.
"""
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.common.errors import ApiError

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OPEN_PATHS = ("/metrics", "/healthz")
DEFAULT_PORTS = {"http": 80, "https": 443}
READ_CHUNK_BYTES = 64 * 1024
FRAME_HEADERS = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def _split_host(value: str, scheme: str) -> tuple[str, int | None] | None:
    """(lower-case host name, port) of a Host header or an Origin's netloc; None if unparsable."""
    try:
        parts = urlsplit(f"{scheme}://{value}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path or parts.query:
        return None
    return parts.hostname.lower(), port or DEFAULT_PORTS.get(scheme)


def allowed_hosts_from_env(environ: dict | None = None) -> frozenset[str]:
    """The extra Host names of `ALLOWED_HOSTS` (comma-separated), lower case."""
    raw = (os.environ if environ is None else environ).get("ALLOWED_HOSTS", "")
    return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())


class RequestGuard:
    """Refuse unknown Host names and cross-origin writes on `paths`; forbid framing everywhere."""

    def __init__(self, allowed_hosts: Iterable[str] = (), paths: Iterable[str] = ("/",)) -> None:
        self.allowed_hosts = LOOPBACK_HOSTS | {name.lower() for name in allowed_hosts}
        self.paths = tuple(paths)

    def init_app(self, app: Flask) -> "RequestGuard":
        """Check every request before its view runs; add the framing headers to every response."""
        app.before_request(self.check)
        app.after_request(self.add_frame_headers)
        return self

    def guards(self, path: str) -> bool:
        """Whether requests to `path` are checked."""
        return path not in OPEN_PATHS and path.startswith(self.paths)

    def check(self) -> None:
        """Raise ApiError unless the Host is known and a write comes from the same origin (or no browser)."""
        if not self.guards(request.path):
            return
        host = _split_host(request.headers.get("Host", ""), request.scheme)
        if host is None or host[0] not in self.allowed_hosts:
            raise ApiError(400, "host_not_allowed",
                           "This server does not answer to the host name in the request; use localhost or "
                           "127.0.0.1, or add the name to ALLOWED_HOSTS.")
        origin = request.headers.get("Origin")
        if request.method in WRITE_METHODS and origin is not None and not self._same_origin(origin, host):
            raise ApiError(403, "cross_origin",
                           "Changes are accepted only from this server's own pages or from clients that are "
                           "not browsers; the request came from another site.")

    def _same_origin(self, origin: str, host: tuple[str, int | None]) -> bool:
        """Whether the Origin header names the address the request was sent to."""
        scheme, _, netloc = origin.partition("://")
        if scheme not in DEFAULT_PORTS or not netloc:
            return False  # includes "null": sandboxed frames, file: pages, some redirects
        return _split_host(netloc, scheme) == host and scheme == request.scheme

    @staticmethod
    def add_frame_headers(response: Response) -> Response:
        """No other site may frame our pages (a framed console button is a clickjacking target)."""
        for name, value in FRAME_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def bounded_body(limit: int) -> bytes:
    """The request body, or RequestEntityTooLarge if it is longer than `limit` bytes, chunked or not.

    With a Content-Length werkzeug refuses an oversized body before reading it.
    Without one (chunked), werkzeug's own limit stops at `limit` bytes and hands
    back a cut body without an error, so the raw stream is read here, one byte
    past the limit, to tell "exactly full" from "too long".
    """
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
        return request.get_data(cache=False)
    if not request.environ.get("wsgi.input_terminated"):
        return b""  # no length and a server that does not end the stream: nothing can be read safely
    stream, body = request.environ["wsgi.input"], bytearray()
    while len(body) <= limit:
        chunk = stream.read(min(READ_CHUNK_BYTES, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
    raise RequestEntityTooLarge()


def guard_service(app: Flask) -> RequestGuard:
    """The guard of a gunicorn service: `REQUEST_GUARD_PATHS` (default: the admin API) and ALLOWED_HOSTS."""
    hosts = set(app.config.get("ALLOWED_HOSTS") or ()) | allowed_hosts_from_env()
    return RequestGuard(hosts, app.config.get("REQUEST_GUARD_PATHS", ("/admin/",))).init_app(app)
