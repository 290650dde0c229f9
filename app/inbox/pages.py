"""GET /: the inbox as a web page, newest notification first, refreshing itself."""
import datetime
from urllib.parse import urlsplit

from flask import Blueprint, render_template, request

from app.inbox.api import parse_filters
from app.inbox.db import inbox_store

DEFAULT_REFRESH_SECONDS = 10
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


@bp.app_template_filter("ended")
def format_end(ends_at):
    """Alertmanager's zero time means "no end yet"."""
    return "" if ends_at.startswith("0001-") else ends_at


@bp.get("/")
def index():
    """The notifications page, with the same filters as the JSON API."""
    filters = parse_filters(request.args)
    notifications = inbox_store().notifications(**filters.as_kwargs())
    refresh = request.args.get("refresh", str(DEFAULT_REFRESH_SECONDS))
    refresh = int(refresh) if refresh.isdigit() and int(refresh) <= 3600 else DEFAULT_REFRESH_SECONDS
    return render_template("index.html", notifications=notifications, filters=filters, refresh=refresh)
