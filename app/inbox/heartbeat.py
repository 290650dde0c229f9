"""The dead man's switch: the alerting pipeline's heartbeat, and the banner when it stops.

Prometheus fires the `Watchdog` alert all the time (prometheus/alerts/monitoring-alerts.yml);
Alertmanager's heartbeat route (alertmanager/alertmanager.yml) posts it here, to
POST /heartbeat, every HEARTBEAT_REPEAT_SECONDS or so. Each post is one heartbeat:
it is not stored as an alert, so it never clutters the notifications page, the
JSON listings or the drill's accounting. When none arrived for
HEARTBEAT_LATE_SECONDS, something between a rule evaluation and this inbox is
broken (Prometheus, its link to Alertmanager, Alertmanager, or the webhook), and
nothing inside that pipeline can say so: the inbox does, on every page (a banner)
and in its metrics (`inbox_watchdog_late`). GET /api/heartbeat is the same state as JSON.
"""
import sqlite3
import time
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify

from app.common.request_log import json_logger
from app.inbox import metrics
from app.inbox.db import inbox_store
from app.inbox.webhook import read_notification

# What the inbox expects, held to alertmanager.yml's heartbeat route by tests/config/test_alertmanager_config.py:
# Alertmanager repeats the Watchdog about every 30 s; three missed beats (90 s) is "late", which keeps the
# promise that a broken pipeline shows within 2 minutes.
HEARTBEAT_REPEAT_SECONDS = 30
DEFAULT_LATE_SECONDS = 90

bp = Blueprint("heartbeat", __name__)


def state(app: Flask | None = None, now: float | None = None) -> dict[str, Any]:
    """The heartbeat as the page, the API and the metrics show it.

    status: "ok" (a heartbeat within the late threshold), "late" (none for longer), or "waiting"
    (none yet since this inbox started, and the threshold has not passed). After a restart the
    inbox waits a full threshold before calling an old heartbeat late.
    """
    app = app or current_app
    now = time.time() if now is None else now
    late_after = float(app.config["HEARTBEAT_LATE_SECONDS"])
    last_seen = inbox_store(app).last_heartbeat()
    started = app.config["STARTED_AT"]
    late = now - max(last_seen or 0.0, started) > late_after
    if late:
        status = "late"
    elif last_seen is not None and last_seen >= started:
        status = "ok"
    else:
        status = "waiting"
    return {"status": status, "late": late, "last_seen": last_seen,
            "age_seconds": None if last_seen is None else round(max(0.0, now - last_seen), 1),
            "late_after_seconds": late_after}


def refresh_gauges(app: Flask) -> None:
    """Set the heartbeat gauges in the scraping worker (the state lives in the shared database)."""
    current = state(app)
    metrics.WATCHDOG_LAST_SEEN.set(current["last_seen"] or 0)
    metrics.WATCHDOG_LATE.set(1 if current["late"] else 0)


@bp.post("/heartbeat")
def receive():
    """One heartbeat: Alertmanager's Watchdog notification, checked like any webhook post, then noted."""
    notification = read_notification()
    if notification.status != "firing":
        # A resolved Watchdog means Prometheus stopped sending it: not a sign of life.
        return jsonify(status="ignored", reason="resolved")
    seen = inbox_store().record_heartbeat()
    metrics.HEARTBEATS_RECEIVED.inc()
    json_logger().debug("heartbeat", extra={"fields": {"alerts": len(notification.alerts)}})
    return jsonify(status="noted", last_seen=seen)


@bp.get("/api/heartbeat")
def show():
    """The heartbeat state as JSON (for scripts, the drill and the console)."""
    return jsonify(state())


@bp.app_template_filter("duration")
def format_duration(seconds: float) -> str:
    """A short age for people: "12 s", "3 min 5 s", "2 h 10 min"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
    return f"{seconds // 3600} h" + (f" {seconds % 3600 // 60} min" if seconds % 3600 // 60 else "")


@bp.app_context_processor
def banner() -> dict[str, Any]:
    """Every page shows the heartbeat: a line while it beats, a banner when it is late."""
    try:
        return {"heartbeat": state(), "heartbeat_every": HEARTBEAT_REPEAT_SECONDS}
    except sqlite3.Error:
        return {"heartbeat": None}  # the error page of a broken database must still render
