"""Part 7, inbox graphs: how long the inbox page takes with 50 notifications, each with its alert's graph
and the graph of the panel its runbook opens.

A fast native stack of the inbox and Prometheus only (1 s scrapes). 50 firing
notifications are posted to the webhook as Alertmanager would, over a few
expressions Prometheus can evaluate here (one series, several, a comparison
it cannot separate), named after the alerts whose runbook sections open a
panel (STORY_ALERTS, in turn: every story panel of docs/runbooks.md), then
the page `/?limit=50` is fetched: once cold (every alert's graph asks
Prometheus's query_range, and each story panel's queries are asked once for
the alerts sharing its window: app/inbox/story_graphs.py), then warm
`--inbox-page-loads` times (both graphs come from the inbox's per-alert cache
until the window moves on, every 15 s: app/inbox/graphs.py). The goal is
judged on the slowest load, the cold one included. The story panels' queries
are the shop's, which this stack does not run: Prometheus answers them with no
samples, so their cost here is the asking, not the data.
"""
import datetime
import re
import statistics
import time
from urllib.parse import quote

import requests

from app.inbox import dashboards, runbooks
from bench import goals
from bench.scratch import in_scratch
from launcher.stack import Stack
from processes.waiting import poll_until

NOTIFICATIONS = 50
EXPRESSIONS = ('up{job="prometheus"} < 2', "rate(prometheus_http_requests_total[1m]) > 100",
               "max(rate(prometheus_http_requests_total[1m]) > 100)", "prometheus_tsdb_head_series > 1e6")


def story_alerts() -> list[str]:
    """The alerts of docs/runbooks.md whose section opens a panel, in the file's order."""
    text = runbooks.DEFAULT_PATH.read_text(encoding="utf-8")
    stories = dashboards.parse_story_panels(text)
    return [name for name in re.findall(r"^## (\w+)\s*$", text, re.M) if runbooks.heading_id(name) in stories]


def rfc3339(unix_seconds: float) -> str:
    """Unix seconds as Alertmanager writes a time."""
    return datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def post_firing(inbox_url: str, webhook_token: str, prometheus_url: str, name: str, expression: str,
                starts_at: float) -> int:
    """Post one firing notification of `expression` to the inbox's webhook, as Alertmanager would; its id."""
    alert = {"status": "firing", "labels": {"alertname": name, "severity": "warning"},
             "annotations": {"summary": f"{name} summary"}, "startsAt": rfc3339(starts_at),
             "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{abs(hash(name)) % 16**16:016x}",
             "generatorURL": f"{prometheus_url}/graph?g0.expr={quote(expression)}&g0.tab=1"}
    body = {"version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "inbox", "groupLabels": {"alertname": name}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": [alert]}
    response = requests.post(inbox_url + "/webhook", json=body, timeout=5,
                             headers={"Authorization": f"Bearer {webhook_token}"})
    response.raise_for_status()
    return response.json()["notification_id"]


def page_seconds(inbox_url: str) -> float:
    """Seconds to fetch the page of NOTIFICATIONS, checked to hold both graphs for each."""
    started = time.monotonic()
    page = requests.get(inbox_url + f"/?limit={NOTIFICATIONS}&refresh=0", timeout=30)
    seconds = time.monotonic() - started
    page.raise_for_status()
    graphs = page.text.count('<svg class="graph"')
    stories = page.text.count('<figure class="alert-graph story-graph">')
    if graphs != 2 * NOTIFICATIONS or stories != NOTIFICATIONS or 'class="graph placeholder"' in page.text:
        raise RuntimeError(f"The inbox page shows {graphs} graphs (placeholders included), {stories} of them the "
                           f"runbooks' panels, not {2 * NOTIFICATIONS} drawn ones, {NOTIFICATIONS} of each kind.")
    return seconds


@in_scratch("bench-inbox-graphs-")
def run(loads: int = 20, log=print, workdir=None) -> dict:
    """Start inbox and Prometheus, post the notifications, time the page cold and warm."""
    with Stack(workdir, services=["inbox", "prometheus"], fast=True, loadgen_rate=0) as stack:
        prometheus, inbox = stack.url("prometheus"), stack.url("inbox")
        poll_until(lambda: requests.get(prometheus + "/api/v1/query", params={"query": "up"}, timeout=2)
                   .json()["data"]["result"], "Prometheus to hold its first samples", 60)
        names = story_alerts()
        for index in range(NOTIFICATIONS):
            post_firing(inbox, stack.webhook_token, prometheus, names[index % len(names)],
                        EXPRESSIONS[index % len(EXPRESSIONS)], time.time() - 60)
        cold = page_seconds(inbox)
        warm = [page_seconds(inbox) for _ in range(loads)]
    log(f"  page of {NOTIFICATIONS}: cold {cold:.3f} s, warm median {statistics.median(warm):.3f} s, "
        f"max {max(warm):.3f} s")
    slowest = max([cold] + warm)
    return {"cold_seconds": round(cold, 4), "warm_median_seconds": round(statistics.median(warm), 4),
            "warm_max_seconds": round(max(warm), 4),
            "goals": {"page_of_50_within_1_s": goals.inbox_page_within_goal(slowest)},
            "settings": {"notifications": NOTIFICATIONS, "warm_loads": loads, "expressions": list(EXPRESSIONS),
                         "story_alerts": len(names)}}
