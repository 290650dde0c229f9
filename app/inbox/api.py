"""JSON listings for scripts and the drill: GET /api/notifications and /api/alerts (described with the
webhook in openapi.yaml, served at /api/openapi.json).

Both take the same filters (`alertname`, `status`, `since` in unix seconds on
the time the inbox received the notification, `limit`) and list newest first.
They page backwards: `before=<id>` lists only older entries, and each answer
carries `next_before`, the value that asks for the next page (null on the last).
"""
import os
from dataclasses import dataclass

import yaml
from flask import Blueprint, jsonify, request

from app.common.errors import ApiError
from app.common.parsing import ascii_int, ascii_number
from app.inbox.db import inbox_store
from app.inbox.payload import STATUSES

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

OPENAPI_FILE = os.path.join(os.path.dirname(__file__), "openapi.yaml")
with open(OPENAPI_FILE) as _spec:
    OPENAPI = yaml.safe_load(_spec)

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/openapi.json")
def openapi():
    """The API description (OpenAPI 3): the webhook and the listings, for clients and the fuzz tests."""
    return jsonify(OPENAPI)


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


def next_before(rows, filters):
    """The `before` value of the next (older) page, or None when this page is the last."""
    return rows[-1]["id"] if len(rows) == filters.limit else None


def parse_filters(args, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT):
    """Read the filters from a query string, or raise ApiError(400) naming the bad one.

    A filter given with an empty value is refused like any other bad value (`?status=` is a caller's
    bug, not "every status"); the web page drops its form's empty fields first (`given_filters`).
    """
    alertname = args.get("alertname")
    if alertname is not None and not alertname:
        raise ApiError(400, "invalid_filter",
                       "The alertname filter must not be empty; leave it out to list every alert.")
    status = args.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, "invalid_filter", "The status filter must be 'firing' or 'resolved'.")
    since = args.get("since")
    if since is not None:
        since = ascii_number(since)  # float() would take ' 1e9', '1_000', '١٧' and 'nan'
        if since is None:
            raise ApiError(400, "invalid_filter", "The since filter must be a time in unix seconds, e.g. 1700000000.")
    limit = ascii_int(args.get("limit", str(default_limit)))
    if limit is None or not 1 <= limit <= max_limit:
        raise ApiError(400, "invalid_filter", f"The limit must be a whole number from 1 to {max_limit}.")
    before = args.get("before")
    if before is not None:
        before = ascii_int(before)
        if before is None:
            raise ApiError(400, "invalid_filter",
                           "The before filter must be an id from the previous page's next_before, e.g. 120.")
    return Filters(alertname=alertname, status=status, since=since, limit=limit, before=before)


def given_filters(args):
    """The query string without empty values: what a submitted filter form means by its blank fields."""
    return {name: value for name, value in args.items() if value != ""}


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
