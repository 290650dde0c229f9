"""Each alert on the inbox page with a small graph of what it watches, drawn from Prometheus.

What is plotted: the expression the alert arrived with (the `g0.expr` of its
generatorURL, Prometheus's own link to it), without its first comparison, so
the curve and the threshold line mean something: `job:...:ratio_rate1m > 0.8`
plots `job:...:ratio_rate1m` against a line at 0.8 (app/common/promql.py, the
same reading the dashboards' thresholds use). When the comparison cannot be
cut off, the boolean expression itself is plotted and the caption says so.

The window is the last 30 minutes (WINDOW_SECONDS), sampled every STEP_SECONDS;
for a resolved alert it ends five minutes after the alert did, so the graph
still shows what happened. The firing interval (startsAt to endsAt, or now) is
shaded.

Inline SVG rather than one image route per graph: the page is one request (a
page of 50 notifications is not 51), its cost is what `make bench` measures,
the graph's data attributes are in the page's DOM, and nothing new is routed
through the request guard. The cost is bounded instead by a cache: a rendered
graph is kept per alert and window end (the end moves every STEP_SECONDS), and
when Prometheus is unreachable or slow the next BACKOFF_SECONDS of graphs show
a placeholder without asking again, so a missing Prometheus costs a page at
most one timeout (range_query.TIMEOUT_SECONDS) and never breaks it.

The expression is sent to Prometheus as it came: only Alertmanager (with the
webhook token) can store an alert, and Prometheus itself abandons a query at
the same timeout, so a costly expression cannot keep it busy either. Series
are told apart on hover (each line's <title>), not by a legend: the graph is
small, and the labels are on the alert above it.
"""
import datetime
import math
import re
import threading
import time
from collections import OrderedDict
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app
from markupsafe import Markup

from app.common import graph_svg, range_query
from app.common.promql import first_comparison
from app.inbox import metrics
from app.inbox.payload import ZERO_TIME

WINDOW_SECONDS = 30 * 60
STEP_SECONDS = 15
RESOLVED_TAIL_SECONDS = 5 * 60
BACKOFF_SECONDS = 10
MAX_EXPRESSION_CHARS = 4000
CACHE_ENTRIES = 1024
_FRACTION = re.compile(r"\.(\d+)")

bp = Blueprint("graphs", __name__)


def expression_of(generator_url: str) -> str | None:
    """The alert's expression from its generatorURL (`.../graph?g0.expr=...`), or None."""
    try:
        values = parse_qs(urlsplit(generator_url or "").query).get("g0.expr")
    except ValueError:
        return None
    expression = values[0].strip() if values else ""
    return expression if expression and len(expression) <= MAX_EXPRESSION_CHARS else None


def unix_time(timestamp: str) -> float:
    """An RFC 3339 timestamp as Alertmanager writes it (up to nanoseconds) in unix seconds."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), timestamp.replace("Z", "+00:00"), count=1)
    return datetime.datetime.fromisoformat(text).timestamp()


def window(alert: dict, now: float) -> tuple[float, float, tuple[float, float]]:
    """(start, end, firing interval) of an alert's graph: the end on the step grid, so it can be cached."""
    firing_start = unix_time(alert["startsAt"])
    ended = alert["status"] == "resolved" and alert["endsAt"] != ZERO_TIME
    firing_end = min(unix_time(alert["endsAt"]), now) if ended else now
    end = math.floor(min(now, firing_end + RESOLVED_TAIL_SECONDS if ended else now) / STEP_SECONDS) * STEP_SECONDS
    return end - WINDOW_SECONDS, end, (firing_start, firing_end)


def plan(expression: str) -> tuple[str, float | int | None, str]:
    """(query, threshold, caption) for an alert expression."""
    comparison = first_comparison(expression)
    if comparison is not None and comparison.left is not None:
        return comparison.left, comparison.threshold, comparison.left
    return expression, None, f"{expression} (the alert's own condition: its comparison could not be separated)"


class GraphCache:
    """Rendered graphs by (alert id, window end), and a story panel's samples by panel and window
    (story_graphs.py), least recently used out; and Prometheus's recent failure."""

    def __init__(self, entries: int = CACHE_ENTRIES, clock=time.monotonic) -> None:
        self.entries = entries
        self.clock = clock
        self._graphs: OrderedDict = OrderedDict()
        self._failure: tuple[float, str] | None = None
        self._lock = threading.Lock()

    def get(self, key):
        """The cached SVG for key, or None."""
        with self._lock:
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key]
            return None

    def put(self, key, svg) -> None:
        """Keep a rendered SVG (or a panel's samples), dropping the least recently used beyond the bound."""
        with self._lock:
            self._graphs[key] = svg
            while len(self._graphs) > self.entries:
                self._graphs.popitem(last=False)

    def recent_failure(self) -> str | None:
        """Why Prometheus could not be asked, if that happened less than BACKOFF_SECONDS ago."""
        with self._lock:
            if self._failure and self.clock() < self._failure[0]:
                return self._failure[1]
            return None

    def failed(self, message: str) -> None:
        """Remember that Prometheus is out of reach, so the next graphs do not wait for it again."""
        with self._lock:
            self._failure = (self.clock() + BACKOFF_SECONDS, message)


class NoGraph(Exception):
    """The graph cannot be drawn: `message` says why (a sentence for the placeholder)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def ask(prometheus_url: str, query: str, start: float, end: float, cache: GraphCache) -> range_query.RangeResult:
    """One range query for a graph, counted by outcome; NoGraph if it fails. Prometheus out of reach is
    remembered in `cache` for BACKOFF_SECONDS, so the page's next graphs do not wait for it again."""
    failure = cache.recent_failure()
    if failure:
        raise NoGraph(failure)
    try:
        result = range_query.query_range(prometheus_url, query, start, end, STEP_SECONDS)
    except range_query.RangeQueryError as error:
        metrics.GRAPH_QUERIES.labels(outcome=error.outcome).inc()
        if error.outcome in ("unreachable", "timeout", "not_configured"):
            cache.failed(error.message)
        raise NoGraph(error.message) from None
    metrics.GRAPH_QUERIES.labels(outcome="ok").inc()
    return result


def alert_graph_svg(alert: dict, prometheus_url: str, cache: GraphCache, now: float | None = None) -> str:
    """The SVG for one alert (as stored: the JSON API's fields): its graph, or a placeholder saying why not."""
    expression = expression_of(alert.get("generatorURL", ""))
    if expression is None:
        return graph_svg.placeholder("No graph: this alert came without a Prometheus expression (generatorURL).")
    now = time.time() if now is None else now
    start, end, firing = window(alert, now)
    key = (alert["id"], end)
    cached = cache.get(key)
    if cached is not None:
        return cached
    query, threshold, caption = plan(expression)
    try:
        result = ask(prometheus_url, query, start, end, cache)
    except NoGraph as error:
        svg = graph_svg.placeholder(f"No graph: {error.message}")
        if cache.recent_failure() is None:
            cache.put(key, svg)  # the same expression over the same window fails the same way
        return svg
    if result.total_series > len(result.series):
        caption += f" ({len(result.series)} of {result.total_series} series shown)"
    series = [graph_svg.Series(label, points) for label, points in result.series]
    svg = graph_svg.render(graph_svg.Graph(series, start, end, STEP_SECONDS, threshold, firing, caption))
    cache.put(key, svg)
    return svg


@bp.app_template_global("alert_graph")
def alert_graph(alert: dict) -> Markup:
    """The alert's graph for the page (the renderer escapes every text, so the SVG is safe to inline).

    A graph that cannot be drawn for a reason nobody foresaw is logged and replaced by a placeholder:
    the graph is an aid, the notification is what the page is for."""
    try:
        return Markup(alert_graph_svg(alert, current_app.config["PROMETHEUS_URL"],
                                      current_app.extensions["inbox_graph_cache"]))
    except Exception as error:  # noqa: BLE001 - see the docstring
        current_app.logger.exception("The graph of alert %s could not be drawn.", alert.get("id"))
        return Markup(graph_svg.placeholder(f"No graph: it could not be drawn ({type(error).__name__})."))
