"""JSON listings for scripts and the drill: GET /api/notifications and /api/alerts.

Both take the same filters (`alertname`, `status`, `since` in unix seconds on
the time the inbox received the notification, `limit`) and list newest first.
They page backwards: `before=<id>` lists only older entries, and each answer
carries `next_before`, the value that asks for the next page (null on the last).
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
    before: int | None = None

    def as_kwargs(self):
        """The filters as keyword arguments for the store."""
        return {"alertname": self.alertname, "status": self.status, "since": self.since, "limit": self.limit,
                "before": self.before}


def _whole_number(raw):
    """An ASCII whole number from a query string, or None (int() would take '٣' or ' 3')."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def next_before(rows, filters):
    """The `before` value of the next (older) page, or None when this page is the last."""
    return rows[-1]["id"] if len(rows) == filters.limit else None


def parse_filters(args, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT):
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
    limit = _whole_number(args.get("limit") or str(default_limit))
    if limit is None or not 1 <= limit <= max_limit:
        raise ApiError(400, "invalid_filter", f"The limit must be a whole number from 1 to {max_limit}.")
    before = args.get("before") or None
    if before is not None:
        before = _whole_number(before)
        if before is None:
            raise ApiError(400, "invalid_filter",
                           "The before filter must be an id from the previous page's next_before, e.g. 120.")
    return Filters(alertname=args.get("alertname") or None, status=status, since=since, limit=limit, before=before)


@bp.get("/notifications")
def list_notifications():
    """Notifications (each with its alerts), newest first."""
    filters = parse_filters(request.args)
    rows = inbox_store().notifications(**filters.as_kwargs())
    return jsonify(notifications=rows, count=len(rows), next_before=next_before(rows, filters))


@bp.get("/alerts")
def list_alerts():
    """Alerts across all notifications, newest first."""
    filters = parse_filters(request.args)
    rows = inbox_store().alerts(**filters.as_kwargs())
    return jsonify(alerts=rows, count=len(rows), next_before=next_before(rows, filters))
