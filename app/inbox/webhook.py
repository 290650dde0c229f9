"""POST /webhook: where Alertmanager delivers notifications.

A notification is stored (with each of its alerts) before we answer 200, so
an answer of 200 means "kept". Anything we refuse is counted by reason and
answered with a 4xx whose message says what was wrong; Alertmanager does not
retry 4xx answers, which is right for a payload that will never be valid.
"""
import json

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from app.common.errors import ApiError
from app.common.request_log import json_logger
from app.inbox import metrics
from app.inbox.db import inbox_store
from app.inbox.payload import PayloadError, parse_notification

bp = Blueprint("webhook", __name__)


def _reject(status, reason, message):
    """Count a refused webhook and raise the error the client sees."""
    metrics.WEBHOOKS_REJECTED.labels(reason=reason).inc()
    json_logger().warning("webhook rejected", extra={"fields": {"reason": reason, "detail": message}})
    return ApiError(status, reason, message)


def _read_body():
    """The raw body, refusing anything over the configured size before reading it all."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    too_large = f"The webhook body is larger than the inbox accepts ({limit} bytes)."
    if request.content_length is not None and request.content_length > limit:
        raise _reject(413, "too_large", too_large)
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        # A chunked body without Content-Length that turned out too long.
        raise _reject(413, "too_large", too_large) from None


@bp.post("/webhook")
def receive():
    """Validate and store one Alertmanager notification."""
    body = _read_body()
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise _reject(400, "invalid_json", "The body is not valid JSON; Alertmanager sends a JSON object.") from None
    try:
        notification = parse_notification(decoded)
    except PayloadError as error:
        raise _reject(400, error.reason, error.message) from None

    notification_id = inbox_store().add(notification)
    metrics.NOTIFICATIONS_RECEIVED.labels(status=notification.status).inc()
    for alert in notification.alerts:
        metrics.ALERTS_RECEIVED.labels(status=alert.status, severity=metrics.severity_label(alert.labels)).inc()
    json_logger().info("notification stored", extra={"fields": {
        "notification_id": notification_id, "status": notification.status,
        "alerts": len(notification.alerts), "group_key": notification.group_key[:200],
    }})
    return jsonify(status="stored", notification_id=notification_id, alerts=len(notification.alerts))
