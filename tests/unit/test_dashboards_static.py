"""Static checks of the Grafana dashboards and provisioning (no Grafana server runs here).

Every dashboard is generated from grafana/boards/, valid against Grafana's own
JSON schema, uses only the provisioned datasource, has titled, described,
non-overlapping panels with units, and queries only metrics our services
expose or our rules record. The panels the runbooks open exist, and the
provisioning files agree with Prometheus's config and docker-compose.yml.
"""
import copy
import json
import re

import jsonschema
import pytest
import yaml

from grafana import checks, common, generate
from grafana.inventory import known_metrics
from grafana.verify import load_dashboards
from tests.helpers.paths import REPO

GRAFANA = REPO / "grafana"
SCHEMAS = REPO / "tests" / "schemas" / "grafana"
# The uids are a contract: runbooks, the scenario catalog and the demo console link to them.
UIDS = {"shop-overview", "shop-dependencies", "shop-business", "shop-slos", "shop-instrumentation-101"}
DASHBOARDS = {d["uid"]: d for d in load_dashboards()}


def load_yaml(path):
    """Parse a YAML file of the repository."""
    return yaml.safe_load((REPO / path).read_text())


@pytest.fixture(scope="module")
def metrics():
    """Every metric name our services expose or our rules record."""
    return known_metrics()


def test_the_committed_dashboards_are_what_the_code_generates():
    assert generate.stale() == []


def test_every_dashboard_has_its_fixed_uid_title_and_file_name():
    assert set(DASHBOARDS) == UIDS
    for path in (GRAFANA / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        assert path.stem == dashboard["uid"]
        assert dashboard["title"].startswith("Shop: ")
    assert len({d["title"] for d in DASHBOARDS.values()}) == len(UIDS)


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_dashboard_is_valid_against_grafanas_schema(uid):
    dashboard = DASHBOARDS[uid]
    schema = json.loads((SCHEMAS / "dashboard.jsonschema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(dashboard)
    for panel in checks.panels(dashboard):
        if panel["type"] == "row":
            continue
        panel_schema = json.loads((SCHEMAS / f"{panel['type']}.jsonschema.json").read_text())
        parts = {"Options": panel.get("options"), "FieldConfig": panel.get("fieldConfig", {}).get("defaults", {})
                 .get("custom")}
        for definition, value in parts.items():
            if value is not None and definition in panel_schema["definitions"]:
                jsonschema.Draft7Validator({**panel_schema, "$ref": f"#/definitions/{definition}"}).validate(value)


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_dashboard_passes_every_rule(uid, metrics):
    assert checks.problems(DASHBOARDS[uid], metrics) == []


def test_dashboards_link_to_one_another():
    for uid, dashboard in DASHBOARDS.items():
        linked_tags = {tag for link in dashboard["links"] if link["type"] == "dashboards" for tag in link["tags"]}
        reachable = {other for other, d in DASHBOARDS.items() if linked_tags & set(d["tags"])}
        assert reachable == UIDS, f"{uid} does not link to {UIDS - reachable}."


def test_every_panel_the_runbooks_open_exists():
    """docs/runbooks.md says which panel tells each alert's story ("shop-overview, panel \"...\"")."""
    references = re.findall(r'(shop-[a-z0-9-]+), panel "([^"]+)"', (REPO / "docs" / "runbooks.md").read_text())
    assert references, "The runbooks name no dashboard panel; the pattern of this test no longer matches them."
    for uid, title in references:
        assert uid in DASHBOARDS, f"The runbooks open a dashboard {uid} that does not exist."
        titles = {panel["title"] for panel in checks.panels(DASHBOARDS[uid])}
        assert title in titles, f"The runbooks open the panel {title!r} of {uid}, which has no such panel."


def test_thresholds_drawn_for_alerts_are_the_alerts_thresholds():
    alerts = {rule["alert"]: rule["expr"] for group in load_yaml("prometheus/rules/shop-alerts.yml")["groups"]
              for rule in group["rules"] if "alert" in rule}
    for alert, value in common.ALERT_THRESHOLDS.items():
        assert re.search(rf"[<>]=?\s*{re.escape(f'{value:g}')}\b", alerts[alert]), (
            f"{alert} does not compare against {value:g}; update ALERT_THRESHOLDS in grafana/common.py.")
    recording = {rule["record"]: rule["expr"] for group in load_yaml("prometheus/rules/shop-recording.yml")["groups"]
                 for rule in group["rules"] if "record" in rule}
    assert f'le="{common.SLOW_CALL_SECONDS:g}"' in recording["job_peer:shop_dependency_slow_requests:ratio_rate1m"]


def test_known_metrics_follow_the_exposition_names(metrics):
    expected = {"shop_orders_total", "shop_http_request_duration_seconds_bucket", "shop_build_info",
                "inbox_notifications_received_total", "loadgen_scenario_active", "reconcile_last_run_success",
                "job:shop_http_request_utilisation:ratio_rate1m", "slo:burn_rate:ratio", "up"}
    assert expected <= metrics
    assert not {"shop_orders", "shop_http_request_duration_seconds", "shop_orders_total_total"} & metrics


@pytest.mark.parametrize("expr, names", [
    ('sum by (route) (rate(shop_x_count{route!~"/metrics|/healthz"}[$__rate_interval]))', {"shop_x_count"}),
    ("histogram_quantile(0.99, sum by (le, job) (rate(a_bucket[1m]))) / on (job) group_left b", {"a_bucket", "b"}),
    ("(x == 1 unless x offset 1m == 1) or y", {"x", "y"}),
    ('count (ALERTS{alertname="A", alertstate="firing"}) or vector(0)', {"ALERTS"}),
    ('sort_desc (topk (10, count by (__name__) ({__name__=~"shop_.+"})))', set()),
    ("1 - avg (rate(node_cpu_seconds_total[5m:1m])) * 1e-3 + time()", {"node_cpu_seconds_total"}),
    ("job:shop_orders:rate1m > bool 0.5", {"job:shop_orders:rate1m"}),
])
def test_metric_names_are_found_in_promql(expr, names):
    assert checks.metric_names(expr) == names


def broken(dashboard):
    """A copy of a dashboard with one panel that breaks every static rule at once."""
    bad = copy.deepcopy(dashboard)
    bad["panels"].append({
        "type": "timeseries", "id": 999, "title": "Broken", "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
        "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
        "targets": [{"refId": "A", "expr": 'rate(shop_no_such_metric_total{route=~"$nowhere"}[5m])'}]})
    return bad


def test_static_checks_fail_on_a_broken_panel(metrics):
    found = "\n".join(checks.problems(broken(DASHBOARDS["shop-overview"]), metrics))
    for expected in ("uses the metric shop_no_such_metric_total, which no service exposes",
                     "${DS_...}", "'Broken' has no unit", "'Broken' has no description", "overlap",
                     "uses $nowhere, which the dashboard does not define"):
        assert expected in found


def test_datasource_is_the_one_the_dashboards_use():
    datasource, = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert (datasource["uid"], datasource["type"]) == (checks.DATASOURCE_UID, "prometheus")
    assert datasource["url"] == "http://prometheus:9090"
    scrape_interval = load_yaml("prometheus/prometheus.yml")["global"]["scrape_interval"]
    assert datasource["jsonData"]["timeInterval"] == scrape_interval


def test_dashboard_provider_loads_the_dashboards_into_the_shop_folder():
    provider, = load_yaml("grafana/provisioning/dashboards/shop.yml")["providers"]
    assert (provider["type"], provider["folder"]) == ("file", "Shop")
    assert provider["options"]["path"] == "/etc/grafana/dashboards"  # the native stack rewrites this path


def test_compose_gives_grafana_these_files():
    grafana = load_yaml("docker-compose.yml")["services"]["grafana"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    provider, = load_yaml("grafana/provisioning/dashboards/shop.yml")["providers"]
    assert mounts.get(provider["options"]["path"]) == "./grafana/dashboards", (
        f"Compose must mount ./grafana/dashboards at {provider['options']['path']}, where the provider reads.")
    assert mounts.get("/etc/grafana/provisioning") == "./grafana/provisioning"


def test_compose_lets_anonymous_users_view_the_overview_and_has_no_default_password():
    """Grafana is configured by environment variables in docker-compose.yml (no grafana.ini of ours)."""
    environment = load_yaml("docker-compose.yml")["services"]["grafana"]["environment"]
    assert environment.get("GF_AUTH_ANONYMOUS_ENABLED") == "true"
    assert environment.get("GF_AUTH_ANONYMOUS_ORG_ROLE") == "Viewer"
    assert environment.get("GF_USERS_ALLOW_SIGN_UP") == "false"
    provider, = load_yaml("grafana/provisioning/dashboards/shop.yml")["providers"]
    assert environment.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH") == (
        provider["options"]["path"] + "/shop-overview.json"), "The service overview must be Grafana's home page."
    password = str(environment.get("GF_SECURITY_ADMIN_PASSWORD", "${"))
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE" in environment or password.startswith("${"), (
        "Grafana's admin password must come from a generated secret, never a literal in the repository.")
