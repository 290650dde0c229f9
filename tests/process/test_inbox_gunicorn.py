"""The alert inbox under real gunicorn: history survives restarts, a real Alertmanager delivers to it with its
bearer token, and a chunked body over the limit is refused, not cut."""
import copy
import datetime
import json
import os
import re
import subprocess
import threading

import pytest
import requests

from launcher import binaries
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.errors import assert_error
from tests.helpers.metrics_reading import scrape, value
from tests.helpers.servers import REPO, start_service

WEBHOOK_TOKEN = "inbox-process-token"
INBOX_ENV = {"WEBHOOK_TOKEN": WEBHOOK_TOKEN}
AUTH = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


def _post(url, body):
    """POST a webhook to a running inbox; return the stored notification id."""
    response = requests.post(url + "/webhook", json=body, headers=AUTH, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["notification_id"]


ALERTMANAGER_CONFIG = """
route:
  receiver: inbox
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: inbox
    webhook_configs:
      - url: {inbox}/webhook
        send_resolved: true
        http_config:
          authorization:
            credentials_file: {token_file}
"""


def _rfc3339(moment):
    """A UTC datetime as Alertmanager's API wants it."""
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.slow
def test_history_survives_a_restart_and_concurrent_posts_are_all_kept(tmp_path):
    workdir = str(tmp_path)
    process, url = start_service("inbox", workdir, INBOX_ENV, workers=2)
    try:
        first = _post(url, payload(alert("BeforeRestart")))
        ids, errors = [], []

        def post_some(worker):
            """Five posts, collecting ids and errors."""
            try:
                for index in range(5):
                    ids.append(_post(url, payload(alert(f"Concurrent{worker}-{index}"))))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
        threads = [threading.Thread(target=post_some, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors and len(set(ids)) == 20
        samples = poll_until(lambda: (s := scrape(url)) and
                             value(s, "inbox_notifications_received_total", status="firing") == 21 and s,
                             "the merged /metrics of both workers to count 21 notifications", 10)
        assert value(samples, "inbox_alerts_received_total", status="firing", severity="critical") == 21
        lint = subprocess.run([binaries.find("promtool"), "check", "metrics"], capture_output=True, text=True,
                              input=requests.get(url + "/metrics", timeout=10).text, timeout=30)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    finally:
        process.stop()

    process, url = start_service("inbox", workdir, INBOX_ENV, workers=1)
    try:
        alerts = requests.get(url + "/api/alerts?limit=1000", timeout=10).json()["alerts"]
        assert len(alerts) == 21
        assert alerts[-1]["alertname"] == "BeforeRestart" and alerts[-1]["notification_id"] == first
        # The page shows the newest 20; the 21st, oldest, is one "Older notifications" link away.
        first_page = requests.get(url + "/", timeout=10).text
        older = re.search(r'<a class="older" href="([^"]+)"', first_page).group(1).replace("&amp;", "&")
        assert "BeforeRestart" not in first_page and "BeforeRestart" in requests.get(url + older, timeout=10).text
    finally:
        process.stop()


@pytest.mark.slow
def test_real_alertmanager_delivers_firing_then_resolved(tmp_path):
    inbox, inbox_url = start_service("inbox", str(tmp_path), INBOX_ENV, workers=1)
    port = free_port()
    am_url = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "webhook_token"
    token_file.write_text(WEBHOOK_TOKEN + "\n")  # as init-secrets writes it: Alertmanager trims the newline
    config = tmp_path / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(inbox=inbox_url, token_file=token_file))
    alertmanager = ManagedProcess("alertmanager", [
        binaries.find("alertmanager"), f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        dict(os.environ), str(tmp_path / "alertmanager.log"), cwd=REPO)
    try:
        alertmanager.start()
        poll_until(lambda: requests.get(am_url + "/-/ready", timeout=1).ok, "Alertmanager to be ready", 20)
        now = datetime.datetime.now(datetime.UTC)
        started = now - datetime.timedelta(seconds=30)
        sent = {"labels": {"alertname": "InboxDeliveryCheck", "severity": "warning"},
                "annotations": {"summary": "Delivery check", "runbook_url": "http://localhost:8002/runbooks#x"},
                "startsAt": _rfc3339(started)}
        firing = copy.deepcopy(sent) | {"endsAt": _rfc3339(now + datetime.timedelta(minutes=5))}
        assert requests.post(am_url + "/api/v2/alerts", json=[firing], timeout=5).status_code == 200

        def stored(status):
            """The newest stored InboxDeliveryCheck alert with this status, if any."""
            rows = requests.get(inbox_url + f"/api/alerts?alertname=InboxDeliveryCheck&status={status}",
                                timeout=5).json()["alerts"]
            return rows[0] if rows else None
        fired = poll_until(lambda: stored("firing"), "the firing notification in the inbox", 20)
        assert fired["labels"] == sent["labels"] and fired["annotations"] == sent["annotations"]

        resolved = copy.deepcopy(sent) | {"endsAt": _rfc3339(now - datetime.timedelta(seconds=1))}
        assert requests.post(am_url + "/api/v2/alerts", json=[resolved], timeout=5).status_code == 200
        done = poll_until(lambda: stored("resolved"), "the resolved notification in the inbox", 20)
        assert done["fingerprint"] == fired["fingerprint"] and not done["endsAt"].startswith("0001-")
        notification = requests.get(inbox_url + "/api/notifications?status=resolved", timeout=5).json()
        assert notification["notifications"][0]["receiver"] == "inbox"
    finally:
        alertmanager.stop()
        inbox.stop()


@pytest.mark.slow
def test_chunked_body_over_the_limit_gets_413_and_one_at_the_limit_is_read_whole(tmp_path):
    """A chunked body has no Content-Length: werkzeug's limit alone would cut it silently at 1 MiB."""
    inbox, url = start_service("inbox", str(tmp_path), INBOX_ENV | {"INBOX_MAX_CONTENT_LENGTH": "4096"}, workers=1)
    try:
        body = json.dumps(payload(alert(description="x" * 5000))).encode()

        def chunks(data):
            """The body in 1 KiB pieces: requests sends a generator with Transfer-Encoding: chunked."""
            for start in range(0, len(data), 1024):
                yield data[start:start + 1024]
        headers = AUTH | {"Content-Type": "application/json"}
        too_long = requests.post(url + "/webhook", data=chunks(body), headers=headers, timeout=10)
        assert_error(too_long, 413, "too_large")
        fits = json.dumps(payload(alert(description="y" * 1000))).encode()
        assert len(fits) < 4096
        stored = requests.post(url + "/webhook", data=chunks(fits), headers=headers, timeout=10)
        assert stored.status_code == 200, stored.text
        assert requests.get(url + "/api/alerts", timeout=10).json()["count"] == 1
    finally:
        inbox.stop()
