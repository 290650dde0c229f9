"""Beside each alert's own graph, its story: the panel its runbook section opens first, over the same window.

The alert's graph says *that* a threshold was crossed; the runbook's panel says *why* (the payments
call errors by outcome, the orders stored against the checkouts told "placed"). Which panel: the first
one the section's `**Open.**` paragraph names (dashboards.py parses docs/runbooks.md once per change).
Its queries are the dashboard's, filled as Grafana fills them over the window (app/common/dashboard_panels.py),
each asked of Prometheus's query_range over the alert graph's window and step (graphs.py), the firing
interval shaded. An alert without a runbook section, or whose section names no panel, has no story graph.

Cost as for the alert's graph: the SVG is cached per alert and window end in the same bounded cache, and
Prometheus out of reach is asked once per backoff for both graphs. A panel's queries run one after another
(1 to 4 queries); its series are capped at range_query.MAX_SERIES in all, the caption counting the rest.
Unlike the alert's own expression, a panel's data does not depend on the alert: alerts whose graphs share a
window (every firing one on the page) share the panel's samples too, kept in the same cache per panel and
window, so a page of 50 notifications asks for each story panel once, not 50 times.
"""
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, current_app
from markupsafe import Markup

from app.common import dashboard_panels, graph_svg, range_query
from app.inbox import dashboards, graphs
from app.inbox.runbooks import heading_id, runbooks_path

bp = Blueprint("story_graphs", __name__)
# Grafana's "auto" legend (and an empty one) says nothing: the series' own labels are shown instead.
_NO_LEGEND = ("", "__auto")


@dataclass(frozen=True)
class Story:
    """What the page shows for an alert's story: the graph, the panel's link (on the document's bases:
    the template moves it to the public ones), the dashboard's title and the panel's."""
    svg: Markup
    url: str
    dashboard: str
    title: str


def story_panel(alertname: str, runbooks: Path) -> tuple[str, str] | None:
    """(dashboard uid, panel title) the alert's runbook section opens first, or None."""
    return dashboards.story_panels(runbooks).get(heading_id(alertname)) if alertname else None


def series_label(legend: str, labels: str) -> str:
    """A series' name on hover: the query's legend when it is a fixed text, else the series' labels."""
    return legend if legend not in _NO_LEGEND and "{{" not in legend else labels


def story_graph_svg(alert: dict, uid: str, title: str, prometheus_url: str, cache: graphs.GraphCache,
                    now: float | None = None) -> str:
    """The SVG of the panel's queries over the alert graph's window, or a placeholder saying why not."""
    now = time.time() if now is None else now
    start, end, firing = graphs.window(alert, now)
    key = (alert["id"], end, "story")
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        series, total = panel_series(uid, title, start, end, prometheus_url, cache)
    except graphs.NoGraph as error:
        svg = graph_svg.placeholder(f"No graph of the runbook panel: {error.message}")
        if cache.recent_failure() is None:
            cache.put(key, svg)  # the same queries over the same window fail the same way
        return svg
    shown = series[:range_query.MAX_SERIES]
    caption = f"{dashboard_panels.dashboard(uid)['title']}: {title}"
    if total > len(shown):
        caption += f" ({len(shown)} of {total} series shown)"
    svg = graph_svg.render(graph_svg.Graph(shown, start, end, graphs.STEP_SECONDS, None, firing, caption))
    cache.put(key, svg)
    return svg


def panel_series(uid: str, title: str, start: float, end: float, prometheus_url: str,
                 cache: graphs.GraphCache) -> tuple[list[graph_svg.Series], int]:
    """(series, how many there were) of every query of a panel over the window; shared by the alerts whose
    graphs have this window (NoGraph when a query fails)."""
    key = ("panel", uid, title, start, end)
    cached = cache.get(key)
    if cached is not None:
        return cached
    series: list[graph_svg.Series] = []
    total = 0
    for query, legend in dashboard_panels.panel_queries(uid, title, graphs.WINDOW_SECONDS):
        result = graphs.ask(prometheus_url, query, start, end, cache)
        total += result.total_series
        series += [graph_svg.Series(series_label(legend, label), points) for label, points in result.series]
    cache.put(key, (series, total))
    return series, total


@bp.app_template_global("story_graph")
def story_graph(alert: dict) -> Story | None:
    """The alert's story for the page, or None when its runbook names no panel. Like the alert's graph, a
    failure nobody foresaw is logged and becomes a placeholder: the notification is what the page is for."""
    panel = story_panel(alert.get("alertname", ""), runbooks_path())
    if panel is None:
        return None
    uid, title = panel
    try:
        svg = story_graph_svg(alert, uid, title, current_app.config["PROMETHEUS_URL"],
                              current_app.extensions["inbox_graph_cache"])
    except Exception as error:  # noqa: BLE001 - see the docstring
        current_app.logger.exception("The story graph of alert %s could not be drawn.", alert.get("id"))
        svg = graph_svg.placeholder(f"No graph: it could not be drawn ({type(error).__name__}).")
    return Story(Markup(svg), dashboards.links().panel(uid, title), dashboard_panels.dashboard(uid)["title"], title)
