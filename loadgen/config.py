"""Where the other services live, read once from the environment.

The same variables are set by the native launcher, by docker compose and by a
user at a shell; the defaults are the ports of docs/architecture.md on loopback.
"""
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from app.common import dashboard_links

DEFAULT_RATE = 5.0
DEFAULT_PORT = 8089
# The console's HTTP server: at most this many connections are served at once (one thread each), and a
# connection that sends nothing for this long is closed, so idle sockets cannot pile up threads.
CONSOLE_MAX_THREADS = 32
CONSOLE_SOCKET_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Urls:
    """Base URLs of every service the load generator talks to (no trailing slash)."""
    shop: str = "http://127.0.0.1:8000"
    payments: str = "http://127.0.0.1:8001"
    inbox: str = "http://127.0.0.1:8002"
    prometheus: str = "http://127.0.0.1:9090"
    alertmanager: str = "http://127.0.0.1:9093"
    grafana: str = "http://localhost:3000"
    loadgen: str = "http://127.0.0.1:8089"
    # The trace backend: the drill names an example trace of each scenario (loadgen/trace_examples.py).
    zipkin: str = "http://127.0.0.1:9411"
    fault_token: str = field(default="", repr=False)
    # Where a browser reaches the inbox (runbook links), when that differs from `inbox`.
    inbox_public: str = ""
    # Where "Dashboard" links go: grafana, or prometheus where no Grafana runs (app/common/dashboard_links.py).
    dashboard_links: str = dashboard_links.GRAFANA

    def service(self, name: str) -> str:
        """The base URL of a service that owns fault knobs (shop, payments or inbox)."""
        if name not in ("shop", "payments", "inbox"):
            raise ValueError(f"Service {name!r} has no fault API; only shop, payments and inbox do.")
        return getattr(self, name)


# The environment variable of each service's base URL (what `make local` prints as `export` lines).
URL_VARIABLES = {"shop": "SHOP_URL", "payments": "PAYMENTS_URL", "inbox": "INBOX_URL", "prometheus": "PROMETHEUS_URL",
                 "alertmanager": "ALERTMANAGER_URL", "grafana": "GRAFANA_URL", "loadgen": "LOADGEN_URL",
                 "zipkin": "ZIPKIN_URL"}


def _url(environ: Mapping[str, str], name: str, default: str) -> str:
    return environ.get(name, "").strip().rstrip("/") or default


def urls_from_env(environ: Mapping[str, str] | None = None) -> Urls:
    """Build Urls from SHOP_URL, PAYMENTS_URL, ... and FAULT_TOKEN (defaults: loopback ports)."""
    env = os.environ if environ is None else environ
    defaults = Urls()
    port = env.get("LOADGEN_PORT", "").strip()
    loadgen_default = f"http://127.0.0.1:{port}" if port else defaults.loadgen
    return Urls(
        **{name: _url(env, variable, loadgen_default if name == "loadgen" else getattr(defaults, name))
           for name, variable in URL_VARIABLES.items()},
        fault_token=env.get("FAULT_TOKEN", "") or _read_token(env.get("FAULT_TOKEN_FILE", "")),
        inbox_public=_url(env, "INBOX_PUBLIC_URL", ""),
        dashboard_links=dashboard_links.target_from_env(env),
    )


def _read_token(path: str) -> str:
    """The fault token from FAULT_TOKEN_FILE (compose keeps it in a secrets volume); empty if unreadable."""
    if not path:
        return ""
    try:
        with open(path) as token_file:
            return token_file.read().strip()
    except OSError:
        return ""  # the services then answer 401, and that error names FAULT_TOKEN / FAULT_TOKEN_FILE


def rate_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The baseline rate in journeys per second from LOADGEN_RATE (0 turns traffic off)."""
    env = os.environ if environ is None else environ
    raw = env.get("LOADGEN_RATE", "").strip()
    if not raw:
        return DEFAULT_RATE
    try:
        rate = float(raw)
    except ValueError:
        raise ValueError(f"LOADGEN_RATE must be a number of requests per second, not {raw!r}.") from None
    if rate < 0:
        raise ValueError(f"LOADGEN_RATE must not be negative; it is {rate}.")
    return rate


def browser_url(url: str, default_port: int) -> str:
    """The address a person's browser can use for a service the load generator reaches at `url`.

    Inside compose the load generator reaches `http://inbox:8002`, which a
    browser on the host cannot resolve; compose publishes the same port on
    localhost, so a non-loopback host is swapped for localhost.
    """
    parts = urlsplit(url)
    if parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return url
    return f"{parts.scheme or 'http'}://localhost:{parts.port or default_port}"
