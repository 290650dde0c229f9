"""What every shop dashboard shares: PromQL helpers, annotations and links.

Facts that live elsewhere are read from their source, not repeated: the
customer-route matcher from prometheus/slo/slos.yml, alert thresholds from the
alert rules (grafana/thresholds.py), and every address a link opens from the
published ports (prometheus/links.py, passed in as `site`).
"""
import re
from pathlib import Path

import yaml

from grafana.model import DATASOURCE, query_variable

REPO = Path(__file__).resolve().parent.parent
SLO_SPEC = yaml.safe_load((REPO / "prometheus" / "slo" / "slos.yml").read_text())

# Scrapes, health checks and fault switches are not customer traffic (the SLOs' own matcher).
CUSTOMER = SLO_SPEC["matchers"]["customer_routes"]
RATE = "$__rate_interval"
SLOS = {slo["name"]: slo for slo in SLO_SPEC["slos"]}
# The latency SLO's threshold is the `le` bucket bound its `good` selector counts.
LATENCY_SLO_SECONDS = float(re.search(r'le="([0-9.]+)"', SLOS["latency"]["good"]).group(1))


def error_budget(slo):
    """The share of bad events an SLO allows, e.g. 0.005 for 99.5 %."""
    return round(1 - float(SLOS[slo]["objective"]), 10)


def sel(metric, matchers):
    """A series selector: `metric{matchers}`."""
    return f"{metric}{{{matchers}}}"


def sum_rate(selector, by="", window=RATE):
    """`sum by (...) (rate(selector[window]))`, or a plain sum without labels."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({selector}[{window}]))"


def ratio_or_zero(bad, total):
    """bad / total that is 0, not empty, while no bad event was ever counted (a fresh stack has no 5xx)."""
    return f"({bad} or 0 * {total}) / {total}"


def quantile(q, histogram, matchers="", by=""):
    """The q-quantile of a histogram's buckets over the rate interval (interpolated within a bucket)."""
    grouping = f"le, {by}" if by else "le"
    return f"histogram_quantile({q}, sum by ({grouping}) (rate({histogram}_bucket{{{matchers}}}[{RATE}])))"


def annotations():
    """Fault windows and version changes, shown on every dashboard."""
    def prometheus(name, color, expr, title, text, tags):
        """A Prometheus annotation: a region while `expr` has a series."""
        return {"name": name, "datasource": DATASOURCE, "enable": True, "hide": False, "iconColor": color,
                "expr": expr, "step": "10s", "titleFormat": title, "textFormat": text, "tagKeys": tags,
                "useValueForTime": False}
    return [
        prometheus("Fault scenarios", "red", "loadgen_scenario_active == 1", "Scenario {{scenario}}",
                   "The load generator ran the fault scenario {{scenario}}.", "scenario"),
        prometheus("Fault knobs", "orange",
                   "shop_fault_active == 1 or payments_fault_active == 1", "Fault {{fault}} on {{job}}",
                   "The {{fault}} fault knob of {{job}} was switched on (by a scenario, the drill or by hand).",
                   "job,fault"),
        # A version is "new" when it serves now but did not a minute ago: the first minute after each deploy.
        prometheus("Version changes", "blue",
                   "(shop_build_info == 1 unless shop_build_info offset 1m == 1)"
                   " or (payments_build_info == 1 unless payments_build_info offset 1m == 1)",
                   "{{job}} {{version}}", "{{job}} at {{instance}} started serving version {{version}}.",
                   "job,version"),
    ]


def links(site):
    """Links to every other shop dashboard (by tag), the runbooks, the alert inbox and the demo console.

    `site` (prometheus.links.Links) says where a browser reaches the inbox and the console.
    """
    def link(title, url, tooltip):
        """A link to a page outside Grafana, opened in a new tab."""
        return {"title": title, "type": "link", "url": url, "tooltip": tooltip, "icon": "doc", "tags": [],
                "asDropdown": False, "targetBlank": True, "includeVars": False, "keepTime": False}
    return [
        {"title": "Shop dashboards", "type": "dashboards", "tags": ["shop"], "asDropdown": False,
         "icon": "external link", "tooltip": "", "url": "", "targetBlank": False, "includeVars": False,
         "keepTime": True},
        link("Runbooks", site.runbooks, "What to do about each alert (served by the alert inbox)."),
        link("Alert inbox", f"{site.url('inbox')}/", "Notifications Alertmanager delivered."),
        link("Demo console", f"{site.url('loadgen')}/", "Start and stop fault scenarios."),
    ]


def instance_variable(metric, description):
    """The `instance` variable over the instances that expose `metric`."""
    return query_variable("instance", "Instance", description, f"label_values({metric}, instance)")
