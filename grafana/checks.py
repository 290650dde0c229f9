"""The rules every shop dashboard must pass without a Grafana server.

`problems(dashboard, known_metrics)` returns one sentence per broken rule:
fixed datasource uid (no `__inputs`, no `${DS_...}`), titles, units and
descriptions on every panel, no overlapping panels, only known Grafana
variables, and only metric names that our services expose or our rules
record. `queries(dashboard)` lists every PromQL expression with where it sits,
for the live check (grafana/verify.py).
"""
import json
import re
from dataclasses import dataclass

from app.common import dashboard_panels
from grafana import model

DATASOURCE_UID = "prometheus"
GRID_WIDTH = 24
# Grafana's global variables a query may use (grafana/verify.py gives each a value).
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "atan2", "inf", "nan", "start", "end"}
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_VARIABLE = dashboard_panels.VARIABLE
_IDENTIFIER = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")
_LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard: a panel target, an annotation or a variable."""
    dashboard: str
    kind: str  # "panel", "annotation" or "variable"
    name: str  # panel title, annotation name or variable name
    expr: str

    def __str__(self):
        return f"{self.dashboard} {self.kind} {self.name!r}: {self.expr}"


def panels(dashboard):
    """Every panel, rows' nested panels included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def variable_selector(definition):
    """(series selector, label) of a `label_values(selector, label)` variable definition."""
    match = _LABEL_VALUES.match(definition.strip())
    if not match:
        raise ValueError(f"The variable definition {definition!r} is not label_values(selector, label).")
    return match.group(1), match.group(2)


def queries(dashboard):
    """Every PromQL expression in a dashboard."""
    uid = dashboard.get("uid", "?")
    found = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            found.append(Query(uid, "panel", panel.get("title", "?"), target.get("expr", "")))
    for annotation in dashboard.get("annotations", {}).get("list", []):
        found.append(Query(uid, "annotation", annotation.get("name", "?"), annotation.get("expr", "")))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            selector, label = variable_selector(variable.get("definition") or variable.get("query", ""))
            found.append(Query(uid, "variable", variable["name"], f"count by ({label}) ({selector})"))
    return found


def metric_names(expr):
    """Metric names a PromQL expression reads (names inside `{__name__=~...}` are not seen)."""
    text = _STRING.sub('""', expr)
    text = _VARIABLE.sub(" ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _LABEL_LIST.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        followed_by_call = text[match.end():].lstrip().startswith("(")
        if word.lower() not in _KEYWORDS and not followed_by_call:
            names.add(word)
    return names


def variables_used(expr):
    """Grafana variable names an expression refers to."""
    return {next(filter(None, match.groups())) for match in _VARIABLE.finditer(expr)}


def substitute(expr, values):
    """The expression with every $name, ${name} and [[name]] replaced from `values`; a missing one is an error."""
    return dashboard_panels.substitute(expr, values)


def _datasources(node):
    """Every `datasource` value anywhere in the model."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasources(item)


def _overlaps(dashboard):
    """Sentences for panels that overlap or stick out of the 24-unit grid."""
    found, placed = [], []
    for panel in panels(dashboard):
        pos = panel.get("gridPos")
        title = panel.get("title", "?")
        if not pos:
            found.append(f"Panel {title!r} has no gridPos.")
            continue
        if pos["x"] < 0 or pos["x"] + pos["w"] > GRID_WIDTH:
            found.append(f"Panel {title!r} sticks out of the {GRID_WIDTH}-unit grid ({pos}).")
        for other_title, other in placed:
            if (pos["x"] < other["x"] + other["w"] and other["x"] < pos["x"] + pos["w"]
                    and pos["y"] < other["y"] + other["h"] and other["y"] < pos["y"] + pos["h"]):
                found.append(f"Panels {other_title!r} and {title!r} overlap ({other} and {pos}).")
        placed.append((title, pos))
    return found


def _panel_problems(dashboard):
    """Sentences for panels without a title, description or unit, and for repeated titles or ids."""
    found, titles, ids = [], set(), set()
    for panel in panels(dashboard):
        title = panel.get("title", "").strip()
        if not title:
            found.append(f"A {panel.get('type')} panel (id {panel.get('id')}) has no title.")
        if title in titles:
            found.append(f"Two panels are titled {title!r}; titles must be unique (runbooks refer to them).")
        if panel.get("id") in ids:
            found.append(f"Two panels have the id {panel.get('id')}.")
        titles.add(title)
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        if not panel.get("description", "").strip():
            found.append(f"Panel {title!r} has no description.")
        if panel.get("type") != "text":
            if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
                found.append(f"Panel {title!r} has no unit (fieldConfig.defaults.unit).")
            if not panel.get("targets"):
                found.append(f"Panel {title!r} has no query.")
    return found


def _range_problems(dashboard):
    """Sentences for targets that read `[$__range]` but run as range queries: Grafana would evaluate them once
    per step, each over the whole time range, for a panel that shows one value per series."""
    return [f"Panel {panel.get('title', '?')!r} queries [$__range] as a range query; make target "
            f"{target.get('refId', '?')} instant." for panel in panels(dashboard) for target in panel.get("targets", [])
            if "$__range" in target.get("expr", "") and (target.get("range", True) or not target.get("instant"))]


def _exemplar_problems(dashboard):
    """Sentences for latency graphs (seconds over time) of an exemplar histogram that hide its exemplars: the dot
    that opens an example request's trace is the point of issue 16's exemplars."""
    found = []
    for panel in panels(dashboard):
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        eligible = [target for target in panel.get("targets", [])
                    if model.shows_exemplars(target.get("expr", ""), not target.get("range", True))]
        if panel.get("type") in model.EXEMPLAR_PANELS and unit == "s" and eligible and not any(
                target.get("exemplar") for target in eligible):
            found.append(f"Panel {panel.get('title', '?')!r} graphs an exemplar histogram in seconds but shows no "
                         f"exemplars; set exemplar on target {eligible[0].get('refId', '?')}.")
    return found


def _query_problems(dashboard, known_metrics):
    """Sentences for unknown metric names and Grafana variables."""
    found = []
    defined = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    for query in queries(dashboard):
        if not query.expr.strip():
            found.append(f"{query.dashboard} {query.kind} {query.name!r} has an empty query.")
            continue
        for name in sorted(metric_names(query.expr) - set(known_metrics)):
            found.append(f"{query.dashboard} {query.kind} {query.name!r} uses the metric {name}, which no service "
                         f"exposes and no rule records.")
        for variable in sorted(variables_used(query.expr)):
            if variable in BUILTIN_VARIABLES:
                continue
            if variable not in defined:
                found.append(f"{query.dashboard} {query.kind} {query.name!r} uses ${variable}, which the "
                             f"dashboard does not define.")
            elif not re.search(r'=~\s*"\$\{?' + variable + r'\}?"', query.expr):
                found.append(f"{query.dashboard} {query.kind} {query.name!r} must use ${variable} only as a "
                             f'regex matcher (label=~"${variable}"), so that "All" (.*) works.')
    return found


def problems(dashboard, known_metrics):
    """Every broken rule of one dashboard, as sentences (empty when it is fine)."""
    found = []
    if not dashboard.get("uid") or not dashboard.get("title"):
        found.append("The dashboard needs a fixed uid and a title.")
    if "__inputs" in dashboard or "${DS_" in json.dumps(dashboard):
        found.append("The dashboard uses __inputs or ${DS_...}, which file provisioning does not resolve.")
    for datasource in _datasources(dashboard):
        if not isinstance(datasource, dict) or datasource.get("uid") != DATASOURCE_UID:
            found.append(f"A datasource reference is {datasource!r}; only the provisioned uid "
                         f"{DATASOURCE_UID!r} exists.")
    if "shop" not in dashboard.get("tags", []):
        found.append("The dashboard lacks the tag 'shop' that the other dashboards' links select.")
    if not any(link.get("type") == "dashboards" and "shop" in link.get("tags", [])
               for link in dashboard.get("links", [])):
        found.append("The dashboard has no link to the other shop dashboards (type dashboards, tag shop).")
    return (found + _panel_problems(dashboard) + _overlaps(dashboard) + _query_problems(dashboard, known_metrics)
            + _range_problems(dashboard) + _exemplar_problems(dashboard))
