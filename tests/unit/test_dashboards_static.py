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

from app.common import exemplar_files
from grafana import checks, generate, thresholds
from grafana.inventory import known_metrics
from grafana.verify import load_dashboards
from prometheus import links
from tests.helpers.paths import REPO

GRAFANA = REPO / "grafana"
SCHEMAS = REPO / "tests" / "schemas" / "grafana"
# The uids are a contract: runbooks, the scenario catalog and the demo console link to them.
UIDS = {"shop-overview", "shop-dependencies", "shop-business", "shop-slos", "shop-instrumentation-101",
        "shop-monitoring"}
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


def test_dashboard_links_point_at_the_published_ports():
    """The committed dashboards link to the inbox and console where compose publishes them (.env)."""
    site = links.published()
    for uid, dashboard in DASHBOARDS.items():
        urls = {link["title"]: link["url"] for link in dashboard["links"] if link["type"] == "link"}
        assert urls == {"Runbooks": site.runbooks, "Alert inbox": site.url("inbox") + "/",
                        "Demo console": site.url("loadgen") + "/"}, uid


def test_dashboards_rendered_for_other_ports_link_only_there():
    """Every address in a dashboard comes from the links it is rendered with, none is typed in a board."""
    site = links.Links({**links.published_ports(), "inbox": 18002, "loadgen": 18089})
    for name, text in generate.render(site).items():
        addresses = set(re.findall(r"https?://[^/\"\s)]+", text))
        assert addresses == {"http://localhost:18002", "http://localhost:18089"}, name


def test_every_panel_the_runbooks_open_exists():
    """docs/runbooks.md says which panel tells each alert's story ("shop-overview, panel \"...\"")."""
    references = re.findall(r'(shop-[a-z0-9-]+), panel "([^"]+)"', (REPO / "docs" / "runbooks.md").read_text())
    assert references, "The runbooks name no dashboard panel; the pattern of this test no longer matches them."
    for uid, title in references:
        assert uid in DASHBOARDS, f"The runbooks open a dashboard {uid} that does not exist."
        titles = {panel["title"] for panel in checks.panels(DASHBOARDS[uid])}
        assert title in titles, f"The runbooks open the panel {title!r} of {uid}, which has no such panel."


# (dashboard, panel title or its start) -> the rule whose threshold the panel draws as a line: an alert (the
# number its expression first compares against) or a recording rule (the bucket bound it counts).
DRAWN_THRESHOLDS = {
    ("shop-overview", "Utilisation"): ("alert", "ShopSaturationHigh"),
    ("shop-overview", "Worker utilisation"): ("alert", "ShopSaturationHigh"),
    ("shop-dependencies", "Payments call errors"): ("alert", "ShopPaymentsErrorRatioHigh"),
    ("shop-dependencies", "Payments calls slower than"): ("alert", "ShopPaymentsLatencyHigh"),
    ("shop-dependencies", "Payments call latency"): ("record", "job_peer:shop_dependency_slow_requests:ratio_rate1m"),
    ("shop-business", "Orders stored per placed checkout"): ("alert", "ShopOrdersDropped"),
    ("shop-business", "Time since last successful reconcile"): ("alert", "ShopReconcileJobStale"),
    ("shop-instrumentation-101", "Memory growth per instance"): ("alert", "ShopMemoryGrowth"),
    ("shop-monitoring", "Alerts Prometheus failed to send"): ("alert", "PrometheusErrorSendingAlertsToAnyAlertmanager"),
    ("shop-monitoring", "Notifications Alertmanager failed to deliver"): ("alert", "AlertmanagerFailedToSendAlerts"),
    ("shop-monitoring", "Time since the last push"): ("alert", "PushgatewayPushStale"),
}


def panel_titled(uid, title):
    """The one panel of a dashboard with this title (or a title starting with it and a space)."""
    found = [panel for panel in checks.panels(DASHBOARDS[uid])
             if panel["title"] == title or panel["title"].startswith(title + " ")]
    assert len(found) == 1, f"{uid} has {len(found)} panels titled {title!r}."
    return found[0]


@pytest.mark.parametrize("uid, title", sorted(DRAWN_THRESHOLDS))
def test_panel_draws_the_threshold_its_rule_compares_against(uid, title):
    """The committed dashboards draw each alert's threshold as its rule writes it (the one place it is written)."""
    kind, rule = DRAWN_THRESHOLDS[uid, title]
    expected = thresholds.alert_threshold(rule) if kind == "alert" else thresholds.bucket_bound(rule)
    panel = panel_titled(uid, title)
    drawn = [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
             if step["value"] is not None]
    assert drawn == [expected], (
        f"{uid} panel {panel['title']!r} draws {drawn}, but {rule} compares against {expected}; "
        "read the threshold with grafana/thresholds.py and run `make generate`.")


def test_every_alert_has_a_panel_that_names_it():
    """A reader finds each alert's panel by name: some panel's description says when the alert fires."""
    from tests.helpers.rule_files import alert_names
    described = " ".join(panel.get("description", "") for dashboard in DASHBOARDS.values()
                         for panel in checks.panels(dashboard))
    missing = sorted(name for name in alert_names() if not re.search(rf"\b{name}\b", described))
    assert not missing, f"No panel description names these alerts: {missing}."


def rules_file(tmp_path, expr, name="A", kind="alert"):
    """A rule file with one rule."""
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{kind: name, "expr": expr}]}]}))
    return path


@pytest.mark.parametrize("expr, expected", [
    ("x > 0.8", 0.8),
    ('a{peer="payments"} > 0.1\nand on (job, peer)\nb{peer="payments"} > 0.05', 0.1),
    ('time() - t{job="reconcile"} > 300', 300),
    ('z{code!="500", le="0.5"} <= bool .25', 0.25),
    ("y < 2.5e5", 250000),
])
def test_an_alert_threshold_is_the_first_number_its_expression_compares_against(tmp_path, expr, expected):
    value = thresholds.alert_threshold("A", rules_file(tmp_path, expr))
    assert value == expected and type(value) is type(expected)


def test_a_threshold_that_cannot_be_read_is_an_error_naming_the_alert(tmp_path):
    source = thresholds.ALERT_RULES.read_text()
    edited = tmp_path / "shop-alerts.yml"
    edited.write_text(re.sub(r"(utilisation:ratio_rate1m >) [0-9.]+", r"\1 scalar(saturation_limit)", source))
    assert edited.read_text() != source and isinstance(thresholds.alert_threshold("ShopSaturationHigh"), float)
    with pytest.raises(thresholds.ThresholdError, match="The alert ShopSaturationHigh in .* compares nothing with"):
        thresholds.alert_threshold("ShopSaturationHigh", edited)
    with pytest.raises(thresholds.ThresholdError, match="has no rule `alert: ShopSaturationLow`"):
        thresholds.alert_threshold("ShopSaturationLow")
    with pytest.raises(thresholds.ThresholdError, match="The recording rule r .* counts 0"):
        thresholds.bucket_bound("r", rules_file(tmp_path, "sum(rate(x_bucket[1m]))", "r", "record"))


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


def test_queries_over_the_whole_time_range_run_as_instant_queries(metrics):
    """A stat over `[$__range]` shows one value: as a range query Grafana would evaluate it once per step, each
    over the whole range. The committed dashboards pass; a stat switched back to a range query is caught."""
    over_range = [(uid, panel["title"]) for uid, dashboard in DASHBOARDS.items() for panel in checks.panels(dashboard)
                  for target in panel.get("targets", []) if "$__range" in target["expr"]]
    assert any(uid == "shop-slos" for uid, _title in over_range), "the SLO stats read [$__range]"
    for uid, dashboard in DASHBOARDS.items():
        assert checks._range_problems(dashboard) == [], uid
    bad = copy.deepcopy(DASHBOARDS["shop-business"])
    conversion = next(panel for panel in checks.panels(bad) if panel["title"] == "Conversion")
    conversion["targets"][0].update(range=True, instant=False)
    assert checks.problems(bad, metrics) == ["Panel 'Conversion' queries [$__range] as a range query; "
                                             "make target A instant."]


def test_latency_graphs_show_exemplars_once_per_histogram_selector(metrics):
    """The latency panels draw exemplar dots (issue 16): on the overview's and the dependencies' latency graphs,
    once per histogram selector, never on a ratio axis; a latency graph that loses them is caught."""
    shown = {(uid, panel["title"]): [target["refId"] for target in panel["targets"] if target["exemplar"]]
             for uid, dashboard in DASHBOARDS.items() for panel in checks.panels(dashboard) if panel.get("targets")}
    assert shown[("shop-overview", "Request latency (p50, p90, p99)")] == ["A"]  # p90 and p99: the same dots
    assert shown[("shop-overview", "Payments latency (p50, p90, p99)")] == ["A"]
    assert shown[("shop-dependencies", "Payments call latency")] == ["A"]
    assert shown[("shop-dependencies", "Shop latency beside payments latency")] == ["A", "B", "C", "D"]
    assert shown[("shop-slos", "Latency SLI")] == [], "a ratio axis must not carry exemplars in seconds"
    for uid, dashboard in DASHBOARDS.items():
        assert checks._exemplar_problems(dashboard) == [], uid
    bad = copy.deepcopy(DASHBOARDS["shop-overview"])
    latency = next(panel for panel in checks.panels(bad) if panel["title"] == "Request latency by route")
    latency["targets"][0]["exemplar"] = False
    assert checks.problems(bad, metrics) == [
        "Panel 'Request latency by route' graphs an exemplar histogram in seconds but shows no exemplars; "
        "set exemplar on target A."]


def test_exemplars_link_to_the_provisioned_zipkin_datasource():
    """A dot's trace id opens its trace: the Prometheus datasource sends the exemplar's label to the Zipkin
    datasource, which reads the compose service `zipkin` on the port Zipkin listens on."""
    prometheus, = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"]
    zipkin, = load_yaml("grafana/provisioning/datasources/zipkin.yml")["datasources"]
    assert (zipkin["uid"], zipkin["type"], zipkin["access"]) == ("zipkin", "zipkin", "proxy")
    assert prometheus["jsonData"]["exemplarTraceIdDestinations"] == [
        {"name": exemplar_files.LABEL, "datasourceUid": zipkin["uid"]}]
    service = load_yaml("docker-compose.yml")["services"]["zipkin"]
    container_port = service["ports"][0].rsplit(":", 1)[1]
    assert zipkin["url"] == f"http://zipkin:{container_port}"
    assert not zipkin.get("isDefault"), "Prometheus stays the default datasource"


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
