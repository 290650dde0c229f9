"""Alert thresholds the dashboards draw, read from the alert rules: the one place they are written.

An alert's threshold is the number its expression first compares against
(`job:shop_http_request_utilisation:ratio_rate1m > 0.8`); later comparisons
(`and on (job) ... > 0.05`) are guards that keep it quiet without traffic. How
that number is read is app/common/promql.py's, shared with the inbox's graphs.
A "slow" call is one above the `le` bucket bound a recording rule counts.
"""
import re
from pathlib import Path

import yaml

from app.common.promql import first_comparison
from app.common.promql import number as _number

PROMETHEUS_DIR = Path(__file__).resolve().parent.parent / "prometheus"
ALERT_RULES = PROMETHEUS_DIR / "alerts" / "shop-alerts.yml"
MONITORING_RULES = PROMETHEUS_DIR / "alerts" / "monitoring-alerts.yml"
# Where alert_threshold looks unless told: every hand-written alert source.
ALERT_SOURCES = (ALERT_RULES, MONITORING_RULES)
RECORDING_RULES = PROMETHEUS_DIR / "rules" / "shop-recording.yml"
_BUCKET_BOUND = re.compile(r'\ble\s*=\s*"([^"]+)"')


class ThresholdError(LookupError):
    """A threshold the dashboards draw cannot be read from its rule; the message names the rule."""


def _exprs(path, kind, name):
    """The expressions of every rule of a kind ("alert" or "record") with that name."""
    exprs = [rule["expr"] for group in yaml.safe_load(Path(path).read_text())["groups"]
             for rule in group["rules"] if rule.get(kind) == name]
    if not exprs:
        raise ThresholdError(f"{path} has no rule `{kind}: {name}`, whose threshold a dashboard draws.")
    return exprs


def alert_threshold(alert, path=None):
    """The number the alert's expression first compares against, e.g. 0.8 for `... > 0.8`.

    `path`: the rule file; by default the alert source among ALERT_SOURCES that defines it.
    """
    if path is None:
        path = next((source for source in ALERT_SOURCES if any(
            rule.get("alert") == alert for group in yaml.safe_load(source.read_text())["groups"]
            for rule in group["rules"])), ALERT_RULES)
    values = set()
    for expr in _exprs(path, "alert", alert):
        comparison = first_comparison(expr)
        if comparison is None:
            raise ThresholdError(
                f"The alert {alert} in {path} compares nothing with a number (`{' '.join(expr.split())}`); "
                "a dashboard draws its threshold, so its expression must read `<series> > <number>`.")
        values.add(comparison.threshold)
    if len(values) != 1:
        raise ThresholdError(f"The rules named {alert} in {path} compare against different numbers "
                             f"({', '.join(map(str, sorted(values)))}); a dashboard can draw only one.")
    return values.pop()


def bucket_bound(record, path=RECORDING_RULES):
    """The histogram bucket bound (`le`) a recording rule counts, e.g. 0.5 for `le="0.5"`."""
    bounds = {bound for expr in _exprs(path, "record", record) for bound in _BUCKET_BOUND.findall(expr)}
    if len(bounds) != 1:
        raise ThresholdError(f"The recording rule {record} in {path} must count exactly one bucket bound "
                             f"(`le=\"...\"`); it counts {len(bounds)}.")
    return _number(bounds.pop())
