"""What the alerting configuration implies for timing: each alert's latency floor and, for SLO
burn-rate alerts, the SRE-workbook prediction of when it fires and resolves.

Floor to fire: scrape interval + evaluation interval + the rule's `for` +
the route's group_wait (a new group). Floor to resolve: scrape + evaluation +
the route's group_interval (the resolved alert goes out with the group's
next flush). A rule's own rate window comes on top of both.

Burn-rate prediction at SLI error ratio e, for a rule with burn rate b over
a budget B (= 1 - objective) and a long window: it fires b * B * long / e
after the fault starts (when e > b * B). How fast it resolves depends on
which rule fired (a ticket's short window is 24 times a page's), so the
bench reports the windows that fired instead of predicting that.
"""
import yaml

from prometheus.slo import spec as slo_spec
from prometheus.slo.spec import parse_duration


def _seconds(text, default=0):
    return parse_duration(text) if text else default


def load(prometheus_config, alertmanager_config):
    """Intervals, per-alert rules (for, severity) and per-severity group timers from the rendered configs."""
    with open(prometheus_config) as source:
        prometheus = yaml.safe_load(source)
    with open(alertmanager_config) as source:
        alertmanager = yaml.safe_load(source)
    rules = {}
    for path in prometheus.get("rule_files", []):
        with open(path) as source:
            for group in yaml.safe_load(source).get("groups", []):
                for rule in group.get("rules", []):
                    if "alert" in rule:
                        rules.setdefault(rule["alert"], []).append(
                            {"for": _seconds(rule.get("for")), "severity": rule.get("labels", {}).get("severity")})
    root = alertmanager["route"]
    timers = {}
    for severity in ("critical", "warning", "info", None):
        route = next((r for r in root.get("routes", []) if f'severity="{severity}"' in r.get("matchers", [])), {})
        timers[severity] = {key: _seconds(route.get(key) or root.get(key)) for key in ("group_wait", "group_interval")}
    global_ = prometheus.get("global", {})
    return {"scrape": _seconds(global_.get("scrape_interval"), 60),
            "evaluation": _seconds(global_.get("evaluation_interval"), 60), "rules": rules, "timers": timers}


def floors(config, alertname):
    """(seconds to fire, seconds to resolve) at best for an alert: its fastest rule."""
    rules = config["rules"].get(alertname)
    if not rules:
        return None, None
    base = config["scrape"] + config["evaluation"]
    fire = min(base + r["for"] + config["timers"].get(r["severity"], config["timers"][None])["group_wait"]
               for r in rules)
    resolve = min(base + config["timers"].get(r["severity"], config["timers"][None])["group_interval"] for r in rules)
    return fire, resolve


def slo_for_alert(alertname):
    """(the SLO whose burn alert this is, the active profile), or (None, None)."""
    spec = slo_spec.load()
    slo = next((s for s in spec.slos if s.alert == alertname), None)
    return (slo, spec.profiles[spec.default_profile]) if slo else (None, None)


def burn_prediction(slo, profile, error_ratio, history_seconds=float("inf")):
    """Seconds until the first burn-rate rule of `slo` fires at a steady `error_ratio` (None: none fires).

    A window longer than the data Prometheus holds (`history_seconds` before
    the fault) acts as a window of that length: rate() has nothing older to
    average over.
    """
    if not error_ratio:
        return None
    times = [row.burn_rate * slo.budget * min(parse_duration(row.long), history_seconds) / error_ratio
             for row in profile.alerts if error_ratio > row.burn_rate * slo.budget]
    return min(times) if times else None
