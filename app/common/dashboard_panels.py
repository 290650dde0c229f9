"""Every Grafana panel's queries, for the places that must show a panel where no Grafana runs.

`make local` has no Grafana (none can be installed here), yet the console,
the runbooks, the inbox and the drill report all point at dashboard panels.
They read this index instead: each dashboard's panels by title, each with its
PromQL queries as the dashboard holds them. `query()` fills in the Grafana
variables as Grafana would with the dashboard's defaults (every template
variable "All"; `$__rate_interval` and `$__range` by Grafana's formulas over
the window; grafana/verify.py uses the same), so the query runs as it is in
Prometheus; `prometheus_graph_url()` opens a panel (or a
whole dashboard) in Prometheus's own graph page.

The index (dashboard_panels.json beside this file) is generated from
grafana/boards/ by `make generate` with the dashboards and held to them by the
same staleness check (tests/config); it lives in app/ because the services'
image carries app/ and loadgen/, not grafana/.
"""
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

INDEX_PATH = Path(__file__).resolve().parent / "dashboard_panels.json"
# Grafana's default: about one data point per pixel of a panel ~1000 px wide.
MAX_DATA_POINTS = 1000
# $name, ${name}, ${name:format} and [[name]], as Grafana writes a variable in a query.
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


class UnknownPanel(LookupError):
    """A dashboard or panel the index does not hold; the message names what exists."""


@lru_cache(maxsize=1)
def index() -> dict:
    """{dashboard uid: {"title": ..., "panels": [{"id", "title", "queries": [{"expr", "legend"}]}]}}."""
    return json.loads(INDEX_PATH.read_text())


def build_index(dashboards: dict[str, dict], scrape_interval_seconds: int) -> dict:
    """The index of dashboard models by uid (what `make generate` writes), with what fills their variables:
    each template variable's "All" value and the datasource's scrape interval."""
    built: dict = {"scrape_interval_seconds": scrape_interval_seconds, "dashboards": {}}
    for uid, model in sorted(dashboards.items()):
        panels = []
        for panel in model.get("panels", []):
            queries = [{"expr": t["expr"], "legend": t.get("legendFormat", "")}
                       for t in panel.get("targets", []) if t.get("expr")]
            if queries:
                # The id is what Grafana's panel links name (`/d/<uid>?viewPanel=panel-<id>`).
                panels.append({"id": panel.get("id"), "title": panel["title"], "queries": queries})
        variables = {v["name"]: v.get("allValue") or ".*" for v in model.get("templating", {}).get("list", [])}
        built["dashboards"][uid] = {"title": model["title"], "variables": variables, "panels": panels}
    return built


def dashboard(uid: str) -> dict:
    """One dashboard's entry, or UnknownPanel saying which exist."""
    boards = index()["dashboards"]
    if uid not in boards:
        raise UnknownPanel(f"No dashboard {uid!r}; dashboards: {', '.join(sorted(boards))}.")
    return boards[uid]


def panel(uid: str, title: str) -> dict:
    """One panel of one dashboard, or UnknownPanel saying which exist."""
    board = dashboard(uid)
    for candidate in board["panels"]:
        if candidate["title"] == title:
            return candidate
    raise UnknownPanel(f"Dashboard {uid!r} has no panel {title!r}.")


def _duration(seconds: float) -> str:
    """A PromQL duration for a whole number of seconds (minutes when it divides)."""
    seconds = max(1, int(round(seconds)))
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def grafana_values(template_values: dict[str, str], time_interval: int, span: int) -> dict[str, str]:
    """The value Grafana gives each variable over a span of seconds: its formula for the builtins
    ($__interval, $__rate_interval, $__range...), the "All" value for the dashboard's own."""
    interval = max(time_interval, math.ceil(span / MAX_DATA_POINTS))
    rate_interval = max(interval + time_interval, 4 * time_interval)
    return {"__interval": f"{interval}s", "__interval_ms": str(interval * 1000),
            "__rate_interval": f"{rate_interval}s", "__range": f"{span}s", "__range_s": str(span),
            "__range_ms": str(span * 1000), **template_values}


def substitute(expr: str, values: dict[str, str]) -> str:
    """The expression with every $name, ${name} and [[name]] replaced from `values`; a missing one is an error."""
    def replace(match: re.Match) -> str:
        name = next(filter(None, match.groups()))
        if name not in values:
            raise KeyError(f"The query uses ${name}, which has no value: {expr}")
        return values[name]
    return VARIABLE.sub(replace, expr)


def query(uid: str, expr: str, range_seconds: float = 30 * 60) -> str:
    """One of a dashboard's expressions with Grafana's variables filled in as Grafana would fill them
    over the last `range_seconds`, every template variable at its default, All."""
    board = dashboard(uid)
    values = grafana_values(board["variables"], index()["scrape_interval_seconds"],
                            max(1, int(range_seconds)))
    return substitute(expr, values)


def panel_queries(uid: str, title: str, range_seconds: float = 30 * 60) -> list[tuple[str, str]]:
    """(runnable expression, legend format) of each query of a panel."""
    return [(query(uid, q["expr"], range_seconds), q["legend"]) for q in panel(uid, title)["queries"]]


def prometheus_graph_url(prometheus: str, expressions: list[str], range_input: str = "30m") -> str:
    """Prometheus's graph page with one graph per expression (the g<N>.* parameters its UI reads)."""
    params: list[tuple[str, str]] = []
    for number, expr in enumerate(expressions):
        params += [(f"g{number}.expr", expr), (f"g{number}.tab", "0"), (f"g{number}.range_input", range_input)]
    return f"{prometheus.rstrip('/')}/graph?{urlencode(params)}"


def panel_graph_url(prometheus: str, uid: str, title: str, range_seconds: float = 30 * 60) -> str:
    """A panel opened in Prometheus: each of its queries as one graph."""
    return prometheus_graph_url(prometheus, [expr for expr, _ in panel_queries(uid, title, range_seconds)],
                                _duration(range_seconds))


def dashboard_graph_url(prometheus: str, uid: str, range_seconds: float = 30 * 60) -> str:
    """A whole dashboard opened in Prometheus: every query of every panel, in the dashboard's order."""
    expressions = [query(uid, q["expr"], range_seconds) for p in dashboard(uid)["panels"] for q in p["queries"]]
    return prometheus_graph_url(prometheus, expressions, _duration(range_seconds))
