"""GET /: the inbox as a web page, newest notification first, refreshing itself."""
import datetime
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request, url_for

from app.common.parsing import ascii_int
from app.inbox import public_links
from app.inbox.api import given_filters, next_before, parse_filters
from app.inbox.db import inbox_store

DEFAULT_REFRESH_SECONDS = 10
# A page of notifications (each up to the webhook's alert cap): bounded, with a link to older ones.
PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 100
bp = Blueprint("pages", __name__)


@bp.app_template_filter("utc")
def format_utc(unix_seconds):
    """Unix seconds as a readable UTC time."""
    moment = datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("link")
def safe_link(url):
    """The URL if it is a web link, else None (an annotation must never become a javascript: link)."""
    if not url:
        return None
    return url if urlsplit(url).scheme in ("http", "https") else None


@bp.app_template_filter("public")
def public_link(url):
    """A link to the stack (an alert's runbook_url) moved to where the browser reaches it (public_links.py)."""
    return public_links.for_this_request(url) if url else url


@bp.app_template_filter("ended")
def format_end(ends_at):
    """Alertmanager's zero time means "no end yet"."""
    return "" if ends_at.startswith("0001-") else ends_at


@bp.get("/")
def index():
    """The notifications page, with the same filters as the JSON API."""
    filters = parse_filters(given_filters(request.args), default_limit=PAGE_LIMIT, max_limit=MAX_PAGE_LIMIT)
    notifications = inbox_store().notifications(**filters.as_kwargs())
    refresh = ascii_int(request.args.get("refresh", ""))  # '²'.isdigit() is True, int('²') fails
    refresh = refresh if refresh is not None and refresh <= 3600 else DEFAULT_REFRESH_SECONDS
    older = next_before(notifications, filters)
    older_url = url_for("pages.index", **{**request.args.to_dict(), "before": older}) if older else None
    return render_template("index.html", notifications=notifications, filters=filters, refresh=refresh,
                           older_url=older_url)
