"""POST /webhook: where Alertmanager delivers notifications.

Only Alertmanager may write here: it sends `Authorization: Bearer <token>`
(`http_config.authorization.credentials_file` in alertmanager.yml), the token
the inbox knows as WEBHOOK_TOKEN. Unset, every post is refused, as the admin
API does without FAULT_TOKEN. The body must be JSON (a web page cannot send
that cross-site without a preflight we never grant), at most
MAX_CONTENT_LENGTH bytes, also when sent chunked, with at most
MAX_ALERTS_PER_NOTIFICATION alerts (alertmanager.yml's `max_alerts`).

A notification is stored (with each of its alerts) before we answer 200, so
an answer of 200 means "kept". Anything we refuse is counted by reason and
answered with a 4xx whose message says what was wrong; Alertmanager does not
retry 4xx answers, which is right for a payload that will never be valid.
"""
import hmac
import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.common.errors import ApiError
from app.common.request_guard import bounded_body
from app.common.request_log import json_logger
from app.inbox import metrics
from app.inbox.db import inbox_store
from app.inbox.payload import PayloadError, parse_notification

bp = Blueprint("webhook", __name__)


def _reject(status, reason, message, headers=None):
    """Count a refused webhook and raise the error the client sees."""
    metrics.WEBHOOKS_REJECTED.labels(reason=reason).inc()
    json_logger().warning("webhook rejected", extra={"fields": {"reason": reason, "detail": message}})
    return ApiError(status, reason, message, headers)


def _authorise():
    """Refuse a post without the webhook token (constant-time comparison)."""
    expected = current_app.config["WEBHOOK_TOKEN"]
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer "):] if header.startswith("Bearer ") else ""
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise _reject(401, "unauthorized",
                      "The webhook needs the header 'Authorization: Bearer <WEBHOOK_TOKEN>', as Alertmanager "
                      "sends it from its credentials_file.", {"WWW-Authenticate": 'Bearer realm="inbox"'})


def _read_body():
    """The raw body, refusing anything over the configured size without keeping more than that."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    try:
        return bounded_body(limit)
    except RequestEntityTooLarge:
        raise _reject(413, "too_large", f"The webhook body is larger than the inbox accepts ({limit} bytes).") from None


def read_notification():
    """The validated notification of this request (token, media type, size, alert cap, payload), or ApiError.

    Shared by /webhook and /heartbeat (heartbeat.py): both are Alertmanager's webhook, held to the same rules.
    """
    _authorise()
    if request.mimetype != "application/json":
        raise _reject(415, "unsupported_media_type",
                      "The webhook accepts only JSON (Content-Type: application/json), as Alertmanager sends it.")
    body = _read_body()
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _reject(400, "invalid_json", "The body is not valid JSON; Alertmanager sends a JSON object.") from None
    cap = current_app.config["MAX_ALERTS_PER_NOTIFICATION"]
    alerts = decoded.get("alerts") if isinstance(decoded, dict) else None
    if isinstance(alerts, list) and len(alerts) > cap:  # counted before any alert is validated
        raise _reject(413, "too_many_alerts",
                      f"A notification may carry at most {cap} alerts; this one has {len(alerts)} "
                      "(set max_alerts in alertmanager.yml).")
    try:
        notification = parse_notification(decoded)
    except PayloadError as error:
        raise _reject(400, error.reason, error.message) from None
    return notification


@bp.post("/webhook")
def receive():
    """Validate and store one Alertmanager notification."""
    notification = read_notification()
    notification_id = inbox_store().add(notification)
    metrics.NOTIFICATIONS_RECEIVED.labels(status=notification.status).inc()
    for alert in notification.alerts:
        metrics.ALERTS_RECEIVED.labels(status=alert.status, severity=metrics.severity_label(alert.labels)).inc()
    json_logger().info("notification stored", extra={"fields": {
        "notification_id": notification_id, "status": notification.status,
        "alerts": len(notification.alerts), "group_key": notification.group_key[:200],
    }})
    return jsonify(status="stored", notification_id=notification_id, alerts=len(notification.alerts))
