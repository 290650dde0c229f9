"""Real local servers for tests: a Flask app served in a thread, and our gunicorn services as processes."""
import contextlib
import os
import sys
import threading

import requests
from werkzeug.serving import make_server

from processes.managed import ManagedProcess
from processes.ports import free_port, port_holders
from processes.waiting import poll_until
from tests.helpers.paths import REPO

TEST_TOKEN = "test-token-not-secret"


class ThreadedServer:
    """Serve a WSGI app on 127.0.0.1 in a background thread (a real HTTP server, not a mock)."""

    def __init__(self, app):
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        # serve_forever checks for shutdown every poll_interval: 0.5 s by default, paid by every test that stops it.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self):
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.thread.join(timeout=5)


def start_service(name, workdir, env=None, workers=2, max_requests=0):
    """Start `python -m app.serve NAME` on a free port; return (process, base URL). Caller stops it."""
    port = free_port()
    full_env = dict(os.environ)
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    full_env.update({"PYTHONPATH": str(REPO), f"{name.upper()}_DATA_DIR": os.path.join(workdir, name),
                     "PROMETHEUS_MULTIPROC_DIR": os.path.join(workdir, f"metrics-{name}")})
    full_env.update(env or {})
    command = [sys.executable, "-m", "app.serve", name, "--port", str(port), "--workers", str(workers),
               "--max-requests", str(max_requests)]
    os.makedirs(workdir, exist_ok=True)
    process = ManagedProcess(name, command, full_env, os.path.join(workdir, f"{name}.log"), cwd=REPO).start()
    url = f"http://127.0.0.1:{port}"
    try:
        # Ours, not another test's server that took the free port first (gunicorn then retries its bind
        # for a few seconds while that one answers): the port's holder must be our gunicorn master.
        poll_until(lambda: process.running() and process.pid in {pid for pid, _ in port_holders(port)}
                   and requests.get(url + "/healthz", timeout=1).ok, f"{name} to answer /healthz on its own port", 30)
    except AssertionError:
        process.stop()
        raise AssertionError(f"{name} did not start:\n{process.log_tail()}") from None
    return process, url


@contextlib.contextmanager
def shop_and_payments(workdir, token, payments_env=None, shop_env=None, workers=2, shop_max_requests=0):
    """payments, then a shop pointing at it, both under gunicorn; stopped (by id) on the way out.

    Yields {"shop": url, "payments": url, "shop_process": ..., "payments_process": ..., "workdir": ...}.
    """
    payments, payments_url = start_service("payments", workdir, {"FAULT_TOKEN": token, **(payments_env or {})},
                                           workers=workers)
    try:
        shop, shop_url = start_service("shop", workdir,
                                       {"FAULT_TOKEN": token, "PAYMENTS_URL": payments_url, **(shop_env or {})},
                                       workers=workers, max_requests=shop_max_requests)
        try:
            yield {"shop": shop_url, "payments": payments_url, "shop_process": shop, "payments_process": payments,
                   "workdir": workdir}
        finally:
            shop.stop()
    finally:
        payments.stop()


@contextlib.contextmanager
def pushgateway(workdir):
    """A real Pushgateway on a free loopback port, starting empty; yields its URL, stopped (by id) on the way out."""
    from launcher import binaries  # only the tests that push need the binary
    port = free_port()
    # Debian's build defaults --persistence.file to /var/lib/prometheus/pushgateway.data, shared by
    # every Pushgateway on the machine: an empty value keeps this one's state in memory only.
    command = [binaries.find("pushgateway"), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    process = ManagedProcess("pushgateway", command, dict(os.environ), os.path.join(workdir, "pushgateway.log")).start()
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, "the Pushgateway to be ready", 20)
        yield url
    finally:
        process.stop()
