"""Builders for Grafana's dashboard JSON model (the classic model that file provisioning loads).

Only what our dashboards use. Every builder returns plain dicts that validate
against Grafana's JSON schemas (vendored in tests/schemas/grafana/), and every
query goes to the provisioned datasource by its fixed uid: no `__inputs`, no
`${DS_...}`, which file provisioning would not resolve.
"""
import re

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
# The dashboard JSON model version Grafana 11-13 writes; Grafana migrates older models on load.
SCHEMA_VERSION = 41
GRID_WIDTH = 24
ALL = {"selected": True, "text": ["All"], "value": ["$__all"]}
# The histograms whose buckets carry exemplars (a sampled request's trace id, issue 16): every service's
# request histogram (app/common/http_metrics.py) and the shop's calls to payments (app/shop/payments_client.py).
# tests/process/test_gunicorn_exemplars.py holds this list to what the services' OpenMetrics scrapes show.
EXEMPLAR_HISTOGRAMS = ("shop_http_request_duration_seconds", "payments_http_request_duration_seconds",
                       "shop_dependency_request_duration_seconds")


EXEMPLAR_PANELS = ("timeseries", "heatmap")  # the panels that draw exemplars over time
_BUCKET_SELECTOR = re.compile(r"[a-z_]+_bucket(\{[^}]*\})?")


def shows_exemplars(expr, instant):
    """A range query over an exemplar histogram's buckets asks for its exemplars (dots linking to traces)."""
    return not instant and any(f"{histogram}_bucket" in expr for histogram in EXEMPLAR_HISTOGRAMS)


def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    """One PromQL query of a panel; `exemplar` on where the query reads an exemplar histogram over time."""
    return {"refId": ref, "datasource": DATASOURCE, "editorMode": "code", "expr": expr,
            "legendFormat": legend or "__auto", "range": not instant, "instant": instant, "format": fmt,
            "exemplar": shows_exemplars(expr, instant)}


def targets(queries, **kwargs):
    """Targets A, B, C... from `(expr, legend)` pairs or bare expressions."""
    built = []
    for index, query in enumerate(queries):
        expr, legend = (query, "") if isinstance(query, str) else query
        built.append(target(expr, legend, ref=chr(ord("A") + index), **kwargs))
    return built


def thresholds(*steps, base="green"):
    """Absolute thresholds: `base` below the first step, then (value, color) pairs."""
    return {"mode": "absolute", "steps": [{"color": base, "value": None}]
            + [{"color": color, "value": value} for value, color in steps]}


NO_THRESHOLDS = thresholds()


def _panel(kind, title, description, queries, unit, options, *, custom=None, limits=None, mappings=None,
           steps=NO_THRESHOLDS, color="palette-classic", **target_options):
    """The parts every data panel shares: datasource, targets and field defaults (unit, thresholds)."""
    defaults = {"unit": unit, "color": {"mode": color}, "thresholds": steps}
    defaults.update(limits or {})
    if mappings:
        defaults["mappings"] = mappings
    if custom is not None:
        defaults["custom"] = custom
    built = targets(queries, **target_options)
    selectors_shown = set()
    for query in built:
        # Exemplars are seconds: drawn only on a seconds axis, and once per bucket selector (p50, p90 and p99
        # of one histogram would draw the same dots three times).
        selector = _BUCKET_SELECTOR.search(query["expr"])
        query["exemplar"] = (query["exemplar"] and kind in EXEMPLAR_PANELS and unit == "s"
                             and selector.group(0) not in selectors_shown)
        if query["exemplar"]:
            selectors_shown.add(selector.group(0))
    return {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
            "targets": built,
            "fieldConfig": {"defaults": defaults, "overrides": []}, "options": options}


def timeseries(title, description, queries, unit, *, steps=None, stack=False, soft_min=0, maximum=None, fill=10,
               legend_table=False):
    """A time series graph; thresholds (if any) are drawn as dashed lines; the y axis starts at `soft_min`.

    `legend_table` puts a legend table on the right, with last and max values, highest last value first.
    """
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": fill, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"},
              "thresholdsStyle": {"mode": "dashed" if steps else "off"}}
    if soft_min is not None:
        custom["axisSoftMin"] = soft_min
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
    if legend_table:
        legend = {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["lastNotNull", "max"],
                  "sortBy": "Last *", "sortDesc": True}
    options = {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    limits = {"max": maximum} if maximum is not None else None
    return _panel("timeseries", title, description, queries, unit, options, custom=custom, limits=limits,
                  steps=steps or NO_THRESHOLDS)


def stat(title, description, queries, unit, *, steps=None, mappings=None, text_mode="auto", graph=True,
         decimals=None):
    """A single big number (the last value), coloured by its thresholds.

    A query over the whole time range (`[$__range]`) already is the answer: it runs as one instant query,
    not once per step of a range query (which costs as many evaluations, each over the whole range).
    """
    instant = any("$__range" in (query if isinstance(query, str) else query[0]) for query in queries)
    graph = graph and not instant  # an instant query has no history to draw
    options = {"graphMode": "area" if graph else "none", "colorMode": "value", "justifyMode": "auto",
               "textMode": text_mode, "wideLayout": True, "showPercentChange": False,
               "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "percentChangeColorMode": "standard", "orientation": "auto"}
    limits = {"decimals": decimals} if decimals is not None else None
    return _panel("stat", title, description, queries, unit, options, steps=steps or NO_THRESHOLDS,
                  mappings=mappings, limits=limits, color="thresholds", instant=instant)


def bargauge(title, description, queries, unit, *, fmt="time_series", instant=True):
    """Horizontal bars, one per series (or per histogram bucket with fmt="heatmap")."""
    options = {"displayMode": "gradient", "valueMode": "color", "namePlacement": "auto", "showUnfilled": True,
               "sizing": "auto", "minVizWidth": 8, "minVizHeight": 16, "maxVizHeight": 300,
               "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False, "calcs": []},
               "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal"}
    return _panel("bargauge", title, description, queries, unit, options, color="continuous-BlYlRd",
                  instant=instant, fmt=fmt)


def heatmap(title, description, queries, unit):
    """Histogram buckets over time (Grafana turns cumulative `le` buckets into per-bucket counts)."""
    options = {"calculate": False, "cellGap": 1, "showValue": "never",
               "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange", "scale": "exponential",
                         "exponent": 0.5, "steps": 64, "reverse": False},
               "yAxis": {"unit": unit, "axisPlacement": "left"}, "rowsFrame": {"layout": "auto"},
               "filterValues": {"le": 1e-9}, "legend": {"show": True},
               "tooltip": {"mode": "single", "yHistogram": True}, "exemplars": {"color": "rgba(255,0,255,0.7)"}}
    return _panel("heatmap", title, description, queries, unit, options, fmt="heatmap")


def text(title, description, content):
    """A markdown panel (no query, so no unit)."""
    return {"type": "text", "title": title, "description": description,
            "options": {"mode": "markdown", "content": content.strip() + "\n"}}


def value_mappings(mapping):
    """Value -> (text, color) display mappings, e.g. 1 -> ("succeeded", "green")."""
    options = {str(value): {"text": label, "color": color, "index": index}
               for index, (value, (label, color)) in enumerate(mapping.items())}
    return [{"type": "value", "options": options}]


def query_variable(name, label, description, definition):
    """A multi-value dashboard variable from a Prometheus query, defaulting to All (regex `.*`)."""
    return {"type": "query", "name": name, "label": label, "description": description,
            "datasource": DATASOURCE, "definition": definition, "query": definition, "refresh": 2,
            "includeAll": True, "allValue": ".*", "multi": True, "current": dict(ALL), "options": [],
            "sort": 1, "regex": "", "hide": 0}


class Board:
    """A dashboard being laid out: panels flow left to right in rows of 24 grid units."""

    def __init__(self, uid, title, description, tags=("shop",), variables=(), time_from="now-30m"):
        self.uid, self.title, self.description = uid, title, description
        self.tags, self.variables, self.time_from = list(tags), list(variables), time_from
        self.panels = []
        self._x = self._y = self._row_height = 0

    def _newline(self):
        """Move below everything placed so far."""
        self._y += self._row_height
        self._x = self._row_height = 0

    def row(self, title):
        """Start a (non-collapsed) row: the panels added after it belong to it."""
        self._newline()
        self._place({"type": "row", "title": title, "collapsed": False, "panels": []}, GRID_WIDTH, 1)
        self._newline()

    def add(self, panel, width, height):
        """Place a panel after the previous one, wrapping to a new line when it does not fit."""
        if self._x + width > GRID_WIDTH:
            self._newline()
        self._place(panel, width, height)
        return panel

    def column(self, width, *stacked):
        """Place (panel, height) pairs on top of one another in one column of `width`."""
        if self._x + width > GRID_WIDTH:
            self._newline()
        top = 0
        for panel, height in stacked:
            self._place(panel, width, height, top=top)
            top += height
        self._x += width
        self._row_height = max(self._row_height, top)

    def _place(self, panel, width, height, top=None):
        """Give a panel its id and grid position; `top` (an offset in the current line) stacks it."""
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": height, "w": width, "x": self._x, "y": self._y + (top or 0)}
        self.panels.append(panel)
        if top is None:
            self._x += width
            self._row_height = max(self._row_height, height)

    def json(self, annotations, links):
        """The dashboard model Grafana provisions (stable key order, so regeneration is byte-identical)."""
        return {"uid": self.uid, "title": self.title, "description": self.description, "tags": self.tags,
                "timezone": "browser", "editable": False, "graphTooltip": 1, "liveNow": False,
                "refresh": "10s", "schemaVersion": SCHEMA_VERSION, "version": 1,
                "time": {"from": self.time_from, "to": "now"},
                "timepicker": {"refresh_intervals": ["5s", "10s", "30s", "1m", "5m"]},
                "annotations": {"list": annotations}, "links": links,
                "templating": {"list": self.variables}, "panels": self.panels}
