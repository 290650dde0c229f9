"""The Pushgateway keeps the batch job's pushes across a restart, as the native launcher runs it.

Without persistence a restart forgets reconcile_last_success_timestamp_seconds, so
ShopReconcileJobStale has nothing to compare and cannot fire. Compose keeps the same file on a
volume (checked statically in tests/config/test_compose_static.py).
"""
import os
from types import SimpleNamespace

import requests

from launcher.components import build
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.metrics_reading import scrape, value

GROUP = {"job": "reconcile", "instance": ""}
PUSHED = "# TYPE reconcile_last_success_timestamp_seconds gauge\nreconcile_last_success_timestamp_seconds 1234.5\n"


def start(command, log_path, url):
    """A Pushgateway with the launcher's command, ready."""
    process = ManagedProcess("pushgateway", command, dict(os.environ), log_path).start()
    try:
        poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, "the Pushgateway to be ready", 20)
    except BaseException:
        process.stop()
        raise
    return process


def test_a_pushed_group_survives_a_restart_of_the_native_pushgateway(tmp_path):
    port = free_port()
    component = build("pushgateway", SimpleNamespace(port=lambda _name: port, workdir=str(tmp_path)))
    url, log = f"http://127.0.0.1:{port}", str(tmp_path / "pushgateway.log")
    process = start(component.command, log, url)
    try:
        requests.put(url + "/metrics/job/reconcile", data=PUSHED, timeout=5).raise_for_status()
        assert value(scrape(url), "reconcile_last_success_timestamp_seconds", **GROUP) == 1234.5
    finally:
        process.stop()  # SIGTERM: the Pushgateway writes its persistence file on the way out
    process = start(component.command, log, url)
    try:
        after = scrape(url)
        assert value(after, "reconcile_last_success_timestamp_seconds", **GROUP) == 1234.5, \
            "the restarted Pushgateway forgot the batch job's last success"
    finally:
        process.stop()
