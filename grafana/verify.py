"""`python -m grafana.verify PROMETHEUS_URL`: does every dashboard query return data from a live Prometheus?

Grafana cannot run on the development machines, so this is how we know the
panels are not empty: each query of every dashboard, with Grafana's variables
given the values Grafana would give them, goes to Prometheus's HTTP API.
Panel queries run at "now" (an instant query) and need at least one series
with a finite value; annotations run over the dashboard's time range (as
Grafana runs them); variables need at least one label value.
"""
import argparse
import json
import math
import re
import sys
import time
from pathlib import Path

import requests
import yaml

from app.common import dashboard_panels
from grafana import checks

GRAFANA_DIR = Path(__file__).resolve().parent
DATASOURCE_FILE = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
TIMEOUT_SECONDS = 10
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(duration):
    """Seconds in a Grafana/Prometheus duration such as "5s" or "30m"."""
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"{duration!r} is not a duration like 5s or 30m.")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def datasource_time_interval(path=DATASOURCE_FILE):
    """The provisioned datasource's jsonData.timeInterval (the scrape interval), in seconds."""
    config = yaml.safe_load(Path(path).read_text())
    return seconds(config["datasources"][0]["jsonData"]["timeInterval"])


def range_seconds(dashboard):
    """The length of the dashboard's default time range ("now-30m" to "now")."""
    start = dashboard["time"]["from"]
    if not start.startswith("now-") or dashboard["time"]["to"] != "now":
        raise ValueError(f"The dashboard's time range {dashboard['time']} is not relative to now.")
    return seconds(start[len("now-"):])


def grafana_values(dashboard, time_interval):
    """The value Grafana gives each variable: its formula for the builtins, the "All" regex for ours."""
    template_values = {v["name"]: v.get("allValue") or ".*" for v in dashboard.get("templating", {}).get("list", [])}
    return dashboard_panels.grafana_values(template_values, time_interval, range_seconds(dashboard))


def run(prometheus_url, query, values, dashboard):
    """The series a query returns: instant at now for panels and variables, over the range for annotations."""
    expr = checks.substitute(query.expr, values)
    if query.kind == "annotation":
        end = time.time()
        params = {"query": expr, "start": end - range_seconds(dashboard), "end": end, "step": "10s"}
        response = requests.post(f"{prometheus_url}/api/v1/query_range", data=params, timeout=TIMEOUT_SECONDS)
    else:
        response = requests.post(f"{prometheus_url}/api/v1/query", data={"query": expr}, timeout=TIMEOUT_SECONDS)
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"Prometheus rejected {expr}: {body.get('error', response.text)}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    return data["result"]


def has_data(query, series):
    """Whether Grafana would draw something: any series for annotations, a finite value for the rest."""
    if query.kind == "annotation":
        return bool(series)
    return any(math.isfinite(float(s["value"][1])) for s in series)


def empty_queries(prometheus_url, dashboards, time_interval, only=None):
    """Sentences for every query (of `only`, if given) that returns no data."""
    found = []
    for dashboard in dashboards:
        values = grafana_values(dashboard, time_interval)
        for query in checks.queries(dashboard):
            if only is not None and not only(query):
                continue
            try:
                if not has_data(query, run(prometheus_url, query, values, dashboard)):
                    found.append(f"{query} returned no data.")
            except (ValueError, KeyError, requests.RequestException) as error:
                found.append(f"{query} failed: {error}")
    return found


def load_dashboards(directory=GRAFANA_DIR / "dashboards"):
    """Every dashboard JSON file, parsed."""
    return [json.loads(path.read_text()) for path in sorted(Path(directory).glob("*.json"))]


def main(argv=None):
    """Entry point: print the empty queries; exit 1 if there are any."""
    parser = argparse.ArgumentParser(prog="python -m grafana.verify", description=__doc__.splitlines()[0])
    parser.add_argument("prometheus_url", help="e.g. http://localhost:9090")
    args = parser.parse_args(argv)
    empty = empty_queries(args.prometheus_url.rstrip("/"), load_dashboards(), datasource_time_interval())
    print("\n".join(empty) or "Every dashboard query returned data.")
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main())
