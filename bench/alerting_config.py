"""What the alerting configuration implies for timing: each alert's latency floor and, for SLO
burn-rate alerts, the SRE-workbook prediction of when it fires and resolves.

Floor to fire: scrape interval + evaluation interval + the rule's `for` +
the route's group_wait (a new group). Floor to resolve: scrape + evaluation +
the route's group_interval (the resolved alert goes out with the group's
next flush). A rule's own rate window comes on top of both.

Burn-rate prediction at SLI error ratio e, for a rule with burn rate b over
a budget B (= 1 - objective) and windows long/short:
fires after b * B * long / e (when e > b * B), and resolves once the short
window's ratio falls below b * B, short * (1 - b * B / e) after the clear.
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


def burn_prediction(slo, profile, error_ratio, fault_seconds, history_seconds=float("inf")):
    """(seconds to fire, seconds to resolve) by SLO math at `error_ratio` held for `fault_seconds`.

    A window longer than the data Prometheus holds (`history_seconds` before
    the fault) acts as a window of that length: rate() has nothing older to
    average over. None to fire when no rule's threshold is crossed; resolve is
    the slowest rule among those predicted to fire before the clear.
    """
    if not error_ratio:
        return None, None
    fire_times, resolve_times = [], []
    for row in profile.alerts:
        threshold = row.burn_rate * slo.budget
        if error_ratio <= threshold:
            continue
        long, short = (min(parse_duration(w), history_seconds) for w in (row.long, row.short))
        fires_after = threshold * long / error_ratio
        fire_times.append(fires_after)
        if fires_after <= fault_seconds:
            resolve_times.append(short * (1 - threshold / error_ratio))
    return (min(fire_times) if fire_times else None), (max(resolve_times) if resolve_times else None)
