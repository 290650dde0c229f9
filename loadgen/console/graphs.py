"""The console's live graphs of the shop: request rate, server error ratio and p95 latency over the last
ten minutes, with the scenarios of those minutes shaded, so a person who presses Start watches the fault land.

The queries are the service overview dashboard's (app/common/dashboard_panels.json, its variables filled as
Grafana fills them over ten minutes, every route and instance): "Traffic" and "Server error ratio" as they
are, and "p99 latency" asked for the 95th percentile. The curves are the ones the dashboard shows next. (The
recording rules have a job-level request rate, `job:shop_http_requests:rate1m`, but it counts scrapes and
health checks too, and none for the error ratio or a percentile: the dashboard's queries match it better.)

Cost is bounded by a cache of one window: the series of the current window, whose end moves on a
STEP_SECONDS grid, so any number of open tabs cost Prometheus at most three range queries per step (one
request asks at a time; the others wait and read its answer). Shading is drawn per request from the
scenario history, which costs no query. A Prometheus that is not configured, unreachable or slow gives a
placeholder saying so, and nobody asks it again for BACKOFF_SECONDS: a missing Prometheus costs the page
at most one timeout (app/common/range_query.py) and never breaks it.
"""
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.common import dashboard_panels, graph_svg, range_query

WINDOW_SECONDS = 10 * 60
STEP_SECONDS = 5
BACKOFF_SECONDS = 10
DASHBOARD = "shop-overview"
# Where Prometheus could not be asked: the graphs wait for BACKOFF_SECONDS before trying again.
OUT_OF_REACH = ("not_configured", "unreachable", "timeout")


@dataclass(frozen=True)
class Panel:
    """One graph: its key in the answer, its caption and its PromQL."""
    name: str
    caption: str
    query: str


def _percentile(p99_query: str, quantile: str) -> str:
    """The dashboard's p99 query for another quantile (ValueError when the panel's query changed shape)."""
    prefix = "histogram_quantile(0.99, "
    if not p99_query.startswith(prefix):
        raise ValueError(f"The dashboard's p99 latency query no longer starts with {prefix!r}: {p99_query}")
    return f"histogram_quantile({quantile}, " + p99_query[len(prefix):]


@lru_cache(maxsize=1)
def panels() -> tuple[Panel, ...]:
    """The three graphs, their queries read from the service overview dashboard."""
    def first(title: str) -> str:
        return dashboard_panels.panel_queries(DASHBOARD, title, WINDOW_SECONDS)[0][0]
    return (Panel("requests", "requests per second (Overview: Traffic)", first("Traffic")),
            Panel("errors", "server error ratio (Overview: Server error ratio)", first("Server error ratio")),
            Panel("latency", "p95 latency, seconds (Overview: p99 latency, at 0.95)",
                  _percentile(first("p99 latency"), "0.95")))


def window_end(now: float) -> float:
    """The graphs' end: now, on the step grid, so every tab within a step shares one answer."""
    return math.floor(now / STEP_SECONDS) * STEP_SECONDS


class LiveGraphs:
    """The last window's series (one window kept), Prometheus's recent failure, and the rendering."""

    def __init__(self, prometheus_url: str, clock: Callable[[], float] = time.time,
                 query: Callable[..., range_query.RangeResult] = range_query.query_range) -> None:
        self.prometheus_url, self.clock, self.query = prometheus_url, clock, query
        self.queries = 0  # range queries sent, for tests and curiosity
        self._end: float | None = None
        self._series: dict[str, Any] = {}
        self._failure: tuple[float, str] | None = None  # (retry after, sentence)
        self._lock = threading.Lock()

    def _fetch(self, start: float, end: float) -> dict[str, Any]:
        """{panel name: RangeResult, or the sentence why not} for the window (call with the lock held)."""
        found: dict[str, Any] = {}
        for panel in panels():
            if self._failure and self.clock() < self._failure[0]:
                found[panel.name] = self._failure[1]
                continue
            self.queries += 1
            try:
                found[panel.name] = self.query(self.prometheus_url, panel.query, start, end, STEP_SECONDS)
            except range_query.RangeQueryError as error:
                found[panel.name] = error.message
                if error.outcome in OUT_OF_REACH:
                    self._failure = (self.clock() + BACKOFF_SECONDS, error.message)
        return found

    def series(self, end: float) -> dict[str, Any]:
        """The window ending at `end`: cached, or asked of Prometheus once (not again while it is out of reach)."""
        with self._lock:
            if self._end != end:
                if self._failure and self.clock() < self._failure[0]:
                    return {panel.name: self._failure[1] for panel in panels()}
                self._series, self._end = self._fetch(end - WINDOW_SECONDS, end), end
            return self._series

    def snapshot(self, windows: Sequence[graph_svg.Window]) -> dict[str, Any]:
        """The three graphs as SVG text over the current window, `windows` shaded, and the window itself."""
        end = window_end(self.clock())
        start = end - WINDOW_SECONDS
        found = self.series(end)
        graphs = []
        for panel in panels():
            result = found.get(panel.name)
            if isinstance(result, range_query.RangeResult):
                series = [graph_svg.Series(label if label != "{}" else panel.name, points)
                          for label, points in result.series]
                svg = graph_svg.render(graph_svg.Graph(series, start, end, STEP_SECONDS, caption=panel.caption,
                                                       windows=windows))
            else:
                svg = graph_svg.placeholder(f"No {panel.caption.split(' (')[0]} graph: {result}")
            graphs.append({"name": panel.name, "caption": panel.caption, "query": panel.query, "svg": svg,
                           "drawn": isinstance(result, range_query.RangeResult)})
        return {"start": start, "end": end, "step_seconds": STEP_SECONDS, "graphs": graphs,
                "windows": [{"name": w.label, "start": w.start, "end": w.end} for w in windows]}
