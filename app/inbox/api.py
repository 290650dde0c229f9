"""JSON listings for scripts and the drill: GET /api/notifications and /api/alerts.

Both take the same filters (`alertname`, `status`, `since` in unix seconds on
the time the inbox received the notification, `limit`) and list newest first.
"""
import math
from dataclasses import dataclass

from flask import Blueprint, jsonify, request

from app.common.errors import ApiError
from app.inbox.db import inbox_store
from app.inbox.payload import STATUSES

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

bp = Blueprint("api", __name__, url_prefix="/api")


@dataclass(frozen=True)
class Filters:
    """Validated query-string filters."""
    alertname: str | None = None
    status: str | None = None
    since: float | None = None
    limit: int = DEFAULT_LIMIT

    def as_kwargs(self):
        """The filters as keyword arguments for the store."""
        return {"alertname": self.alertname, "status": self.status, "since": self.since, "limit": self.limit}


def parse_filters(args):
    """Read the filters from a query string, or raise ApiError(400) naming the bad one."""
    status = args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_filter", "The status filter must be 'firing' or 'resolved'.")
    since = args.get("since") or None
    if since is not None:
        try:
            since = float(since)
        except ValueError:
            since = math.nan
        if not math.isfinite(since):
            raise ApiError(400, "invalid_filter", "The since filter must be a time in unix seconds, e.g. 1700000000.")
    limit = args.get("limit") or DEFAULT_LIMIT
    try:
        limit = int(limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_filter", f"The limit must be a whole number from 1 to {MAX_LIMIT}.")
    return Filters(alertname=args.get("alertname") or None, status=status, since=since, limit=limit)


@bp.get("/notifications")
def list_notifications():
    """Notifications (each with its alerts), newest first."""
    filters = parse_filters(request.args)
    rows = inbox_store().notifications(**filters.as_kwargs())
    return jsonify(notifications=rows, count=len(rows))


@bp.get("/alerts")
def list_alerts():
    """Alerts across all notifications, newest first."""
    filters = parse_filters(request.args)
    rows = inbox_store().alerts(**filters.as_kwargs())
    return jsonify(alerts=rows, count=len(rows))
