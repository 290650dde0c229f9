"""Every metric the alert inbox exposes (the source of truth for their names).

The inbox runs under gunicorn in prometheus_client's multiprocess mode, so the
metrics live in the default registry of each worker and `/metrics` merges the
workers' files. Label values are closed sets: severities outside
`KNOWN_SEVERITIES` are counted as "other", and rejection reasons are ours.
"""
from flask import Flask
from prometheus_client import Counter, Gauge, Histogram

from app.common.range_query import OUTCOMES as GRAPH_QUERY_OUTCOMES

STATUSES = ("firing", "resolved")
# The severities our rules use; anything else a sender invents becomes "other".
KNOWN_SEVERITIES = ("critical", "warning", "info")
NO_SEVERITY = "none"
OTHER_SEVERITY = "other"
# "unavailable": refused while the refuse_webhooks fault is on (faults.py).
REJECTION_REASONS = ("unauthorized", "unsupported_media_type", "too_large", "too_many_alerts", "invalid_json",
                     "invalid_payload", "unsupported_version", "unavailable")

REQUEST_DURATION = Histogram(
    "inbox_http_request_duration_seconds",
    "Time the inbox took to answer an HTTP request, by route template, method and status code.",
    ["route", "method", "code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS_IN_PROGRESS = Gauge(
    "inbox_http_requests_in_progress",
    "HTTP requests the inbox is handling right now.",
    multiprocess_mode="livesum",
)
NOTIFICATIONS_RECEIVED = Counter(
    "inbox_notifications_received",
    "Alertmanager webhook notifications stored, by the notification's status.",
    ["status"],
)
ALERTS_RECEIVED = Counter(
    "inbox_alerts_received",
    "Alerts stored (one notification carries one or more), by alert status and severity label.",
    ["status", "severity"],
)
WEBHOOKS_REJECTED = Counter(
    "inbox_webhooks_rejected",
    "Webhook requests refused without storing anything, by reason.",
    ["reason"],
)

# The dead man's switch (heartbeat.py). Set from the shared database by the worker that answers the scrape,
# so the most recent value is the true one.
HEARTBEATS_RECEIVED = Counter(
    "inbox_heartbeats_received",
    "Watchdog notifications Alertmanager delivered to /heartbeat: the alerting pipeline's heartbeat.",
)
WATCHDOG_LAST_SEEN = Gauge(
    "inbox_watchdog_last_seen_timestamp_seconds",
    "When the last heartbeat (Watchdog notification) arrived, in unix seconds; 0 if none ever did.",
    multiprocess_mode="livemostrecent",
)
WATCHDOG_LATE = Gauge(
    "inbox_watchdog_late",
    "1 while the heartbeat is late (the alerting pipeline is broken), else 0.",
    multiprocess_mode="livemostrecent",
)

# The alerts' graphs on the page (graphs.py): one per range query asked (a cached graph asks none).
GRAPH_QUERIES = Counter(
    "inbox_graph_queries",
    "Range queries the inbox asked Prometheus for its alerts' graphs, by outcome (range_query.py OUTCOMES).",
    ["outcome"],
)


def severity_label(labels: dict[str, str]) -> str:
    """The bounded `severity` metric label for an alert's label set."""
    severity = labels.get("severity")
    if severity is None:
        return NO_SEVERITY
    return severity if severity in KNOWN_SEVERITIES else OTHER_SEVERITY


def initialise() -> None:
    """Create every label combination at zero so rate() works before the first event."""
    for status in STATUSES:
        NOTIFICATIONS_RECEIVED.labels(status=status)
        for severity in KNOWN_SEVERITIES + (NO_SEVERITY, OTHER_SEVERITY):
            ALERTS_RECEIVED.labels(status=status, severity=severity)
    for reason in REJECTION_REASONS:
        WEBHOOKS_REJECTED.labels(reason=reason)
    for outcome in GRAPH_QUERY_OUTCOMES:
        GRAPH_QUERIES.labels(outcome=outcome)


def refresh_at_scrape(app: Flask) -> None:
    """Update the heartbeat gauges in the scraping worker."""
    from app.inbox import heartbeat  # heartbeat.py imports this module
    heartbeat.refresh_gauges(app)
