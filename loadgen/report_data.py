"""What the drill's HTML report plots, read from Prometheus: each scenario's panel and each alert's condition.

A scenario's window runs from LEAD_IN_SECONDS before its trigger to TAIL_SECONDS
after the last resolve (or the resolve deadline, when one never came). Over it
the report plots the README tour's panel for the scenario, its queries filled
as Grafana fills them (app/common/dashboard_panels.py), and, for each expected
alert, the alert's own expression as Prometheus's rules API gives it, cut at
its first comparison (app/common/promql.py, as the inbox's graphs do) so the
curve and the threshold line show why it fired.

Every call is bounded (app/common/range_query.py: timeout, size); a failure is
a sentence in the plot's place, never an exception. Once Prometheus was
unreachable or slow, the rest of the report does not ask it again.
"""
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from app.common import dashboard_panels, range_query
from app.common.promql import NUMBER, first_comparison

LEAD_IN_SECONDS = 120
TAIL_SECONDS = 60
MAX_POINTS = 400
TIMEOUT_SECONDS = 5.0
MAX_RULES_BYTES = 4 * 1024 * 1024
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# A quoted string (left as it is), or a bracketed product or quotient of two numbers.
_CONSTANT = re.compile(r'("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)'
                       rf"|\(\s*({NUMBER})\s*([*/])\s*({NUMBER})\s*\)")


@dataclass(frozen=True)
class Line:
    """One plotted series: its legend and its (unix time, value) samples."""
    label: str
    points: tuple[tuple[float, float], ...]


@dataclass
class Plot:
    """Everything one figure shows, or `problems` saying why a part of it is missing."""
    start: float
    end: float
    panel: list[Line] = field(default_factory=list)
    condition: list[Line] = field(default_factory=list)
    condition_query: str | None = None
    threshold: float | int | None = None
    problems: list[str] = field(default_factory=list)
    answered: bool = False  # whether any query got an answer (else the figure is a placeholder)


def window(result: Mapping[str, Any], now: float) -> tuple[float, float] | None:
    """(start, end) of a scenario's plots, or None when it was never triggered."""
    triggered, cleared = result.get("triggered_at"), result.get("cleared_at")
    if triggered is None:
        return None
    if cleared is None:
        return triggered - LEAD_IN_SECONDS, now
    resolves = [seconds if seconds is not None else result.get("resolve_within_seconds", 0)
                for seconds in result.get("resolved", {}).values()]
    return triggered - LEAD_IN_SECONDS, min(now, cleared + max(resolves, default=0) + TAIL_SECONDS)


def legend(template: str, series_text: str) -> str:
    """A panel's legend format filled from one series' labels; its label text for "" and Grafana's __auto."""
    if not template or template == "__auto":
        return series_text
    labels = dict(_LABEL.findall(series_text))
    return _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), template)


def fold_constants(expression: str) -> str:
    """The expression with `(14.4 * 0.01)` written as `0.144`, as the SLO burn alerts write their thresholds
    (a burn rate times the error budget), so that its first comparison can be cut off; strings are kept."""
    def fold(match: re.Match) -> str:
        if match.group(1) is not None:
            return match.group(1)
        left, operator, right = float(match.group(2)), match.group(3), float(match.group(4))
        if operator == "/" and right == 0:
            return match.group(0)
        return f"{left * right if operator == '*' else left / right:.12g}"
    return _CONSTANT.sub(fold, expression)


class PrometheusReader:
    """Bounded reads of one Prometheus for one report; remembers that it is out of reach."""

    def __init__(self, prometheus_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url, self.timeout = prometheus_url, timeout
        self.failure: str | None = None
        self._rules: dict[str, list[str]] | None = None

    def lines(self, expression: str, legend_format: str, start: float, end: float) -> list[Line]:
        """The expression's series over the window, or RangeQueryError (at once, once Prometheus is gone)."""
        if self.failure:
            raise range_query.RangeQueryError("unreachable", self.failure)
        step = max(1, math.ceil((end - start) / MAX_POINTS))
        try:
            result = range_query.query_range(self.url, expression, start, end, step, self.timeout)
        except range_query.RangeQueryError as error:
            if error.outcome in ("unreachable", "timeout", "not_configured"):
                self.failure = error.message
            raise
        lines = [Line(legend(legend_format, text), points) for text, points in result.series]
        if result.total_series > len(lines):
            lines.append(Line(f"({result.total_series - len(lines)} more series not shown)", ()))
        return lines

    def alert_queries(self) -> dict[str, list[str]]:
        """Each alerting rule's expression by alert name, in rule file order, or RangeQueryError."""
        if self._rules is None:
            self._rules = self._read_rules()
        return self._rules

    def _read_rules(self) -> dict[str, list[str]]:
        if self.failure:
            raise range_query.RangeQueryError("unreachable", self.failure)
        try:
            with requests.get(self.url.rstrip("/") + "/api/v1/rules", params={"type": "alert"}, stream=True,
                              timeout=self.timeout) as response:
                body = b""
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > MAX_RULES_BYTES:
                        raise range_query.RangeQueryError("too_large", "Prometheus's rules are too large to read.")
            groups = json.loads(body)["data"]["groups"]
            rules: dict[str, list[str]] = {}
            for rule in (rule for group in groups for rule in group["rules"]):
                if rule.get("type") == "alerting":
                    rules.setdefault(rule["name"], []).append(rule["query"])
            return rules
        except requests.Timeout:
            self.failure = f"Prometheus did not answer within {self.timeout:g} s."
        except requests.RequestException:
            self.failure = f"Prometheus is unreachable at {self.url}."
        except (ValueError, KeyError, TypeError):
            raise range_query.RangeQueryError("bad_response", "Prometheus's rules API answered something else "
                                                              "than alerting rules.") from None
        raise range_query.RangeQueryError("unreachable", self.failure)


def panel_plot(reader: PrometheusReader, uid: str, title: str, start: float, end: float) -> Plot:
    """A scenario's dashboard panel over its window (each query's failure noted, the others drawn)."""
    plot = Plot(start, end)
    try:
        queries = dashboard_panels.panel_queries(uid, title, end - start)
    except dashboard_panels.UnknownPanel as error:
        plot.problems.append(str(error))
        return plot
    for expression, legend_format in queries:
        try:
            plot.panel += reader.lines(expression, legend_format, start, end)
            plot.answered = True
        except range_query.RangeQueryError as error:
            plot.problems.append(f"Panel query not drawn: {error.message}")
    return plot


def with_condition(panel: Plot, reader: PrometheusReader, alertname: str) -> Plot:
    """A copy of a panel's plot with the alert's own expression (its first rule's) and threshold added."""
    plot = Plot(panel.start, panel.end, list(panel.panel), problems=list(panel.problems), answered=panel.answered)
    try:
        expressions = reader.alert_queries().get(alertname, [])
    except range_query.RangeQueryError as error:
        plot.problems.append(f"The alert's condition is not drawn: {error.message}")
        return plot
    if not expressions:
        plot.problems.append(f"Prometheus has no alerting rule named {alertname}.")
        return plot
    # The first rule of a name: for the SLO burn alerts, the fastest window, the one that pages first.
    expression = fold_constants(expressions[0])
    comparison = first_comparison(expression)
    if comparison is not None and comparison.left is not None:
        plot.condition_query, plot.threshold = comparison.left, comparison.threshold
    else:  # the comparison cannot be cut off: the series exists only while the condition holds
        plot.condition_query = expression
    try:
        plot.condition = reader.lines(plot.condition_query, "__auto", plot.start, plot.end)
        plot.answered = True
    except range_query.RangeQueryError as error:
        plot.problems.append(f"The alert's condition is not drawn: {error.message}")
    return plot
