"""docker-compose.yml run for real: health, scraping, traffic, an alert end to end, persistence, scaling.

The tests share one running stack (compose_stack) and run in file order: the
restart and scaling tests come last because they disturb the stack.
From the host, services are reached only through their ports published on
127.0.0.1; what needs compose service names runs inside a container.
"""
import time

import requests
import yaml

from launcher import upstream_jar
from processes.waiting import poll_until
from tests.compose.conftest import TIMINGS
from tests.compose.engine import REPO
from tests.helpers import compose_checks as checks
from tests.helpers.upstream_versions import pinned, reported

TIMEOUT = (3, 10)  # connect, read
SCENARIO = "payments-outage"
# Compose service -> the upstream programs its image carries in /bin (upstream's images and our stand-ins alike).
IMAGE_PROGRAMS = {"prometheus": ("prometheus", "promtool"), "alertmanager": ("alertmanager", "amtool"),
                  "pushgateway": ("pushgateway",), "node-exporter": ("node_exporter",),
                  "blackbox-exporter": ("blackbox_exporter",)}
PAGE_WITHIN_SECONDS = 90  # issue 14: a dead shop pages within 90 s, whatever discovers it
SHOP_DOWN_PAGES = ("ShopProbeFailing", "ShopNoHealthyTarget")


def query(stack, promql, at=None):
    """Run an instant PromQL query through Prometheus's published port; return the result vector."""
    params = {"query": promql, **({"time": at} if at is not None else {})}
    response = requests.get(stack.url("prometheus") + "/api/v1/query", params=params, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()["data"]["result"]


def expected_targets():
    """job -> set of instance labels (or the DNS name for dns_sd jobs) from the compose Prometheus config."""
    config = checks.load(REPO / "prometheus" / "prometheus.yml")
    jobs = {}
    for scrape in config["scrape_configs"]:
        targets = {t for static in scrape.get("static_configs", []) for t in static["targets"]}
        targets |= {f"dns:{n}" for dns in scrape.get("dns_sd_configs", []) for n in dns["names"]}
        jobs[scrape["job_name"]] = targets
    return jobs


def test_every_service_runs_and_every_declared_healthcheck_passes(compose_stack):
    """Each active service has a running container whose compose healthcheck command passes."""
    engine = compose_stack.engine
    for service in engine.active_services():
        if checks.one_shot(engine.compose, service):
            continue  # start-up already required its exit status 0
        containers = poll_until(lambda s=service: engine.containers(s), f"{service} to run", 60)
        for container in containers:
            poll_until(lambda c=container: engine.healthcheck(c), f"{container}'s healthcheck to pass", 120,
                       interval=1.0)


def test_every_upstream_image_runs_the_versions_env_pins(compose_stack):
    """Inside each image, every upstream program prints exactly the version .env pins (the stand-ins carry
    launcher/upstream.py's builds of the same tags)."""
    engine = compose_stack.engine
    for service, programs in IMAGE_PROGRAMS.items():
        container = engine.container(service)
        for program in programs:
            result = engine.exec(container, [f"/bin/{program}", "--version"], timeout=60)
            assert reported(result.stdout + result.stderr) == (program, pinned(program)), (
                f"{program} in {service} is not the release .env pins: {result.stdout}{result.stderr}")


def test_zipkin_is_the_pinned_release_and_serves_its_ui(compose_stack):
    """The trace backend answers on its published port: healthy, the release .env pins (its /info), its UI."""
    url = compose_stack.url("zipkin")
    health = poll_until(lambda: requests.get(url + "/health", timeout=TIMEOUT).json(), "Zipkin's /health", 120,
                        interval=2.0)
    assert health["status"] == "UP", health
    assert requests.get(url + "/info", timeout=TIMEOUT).json()["zipkin"]["version"] == upstream_jar.pinned_version()
    ui = requests.get(url + "/zipkin/", timeout=TIMEOUT)
    assert ui.status_code == 200 and "text/html" in ui.headers["Content-Type"], ui.status_code


def test_the_baseline_traffics_traces_arrive_in_zipkin(compose_stack):
    """The load generator's checkouts are traced from its journey through shop and payments into Zipkin by its
    compose name: one trace with spans of all three."""
    url = compose_stack.url("zipkin")

    def joined_trace():
        traces = requests.get(url + "/api/v2/traces", params={"serviceName": "payments", "limit": 10},
                              timeout=TIMEOUT).json()
        return [trace for trace in traces if {span["localEndpoint"]["serviceName"] for span in trace}
                >= {"loadgen", "shop", "payments"}]
    poll_until(joined_trace, "a trace with spans of loadgen, shop and payments in Zipkin", 120, interval=2.0)


def test_the_reconcile_jobs_runs_arrive_in_zipkin_with_the_shops_spans_below_them(compose_stack):
    """The batch job (every minute in compose) traces each run; its read of the shop's orders carries traceparent."""
    url = compose_stack.url("zipkin")

    def reconcile_trace():
        traces = requests.get(url + "/api/v2/traces", params={"serviceName": "reconcile", "spanName": "reconcile run",
                                                               "limit": 5}, timeout=TIMEOUT).json()
        return [trace for trace in traces if {span["localEndpoint"]["serviceName"] for span in trace}
                >= {"reconcile", "shop"}]
    poll_until(reconcile_trace, "a trace of a reconcile run with the shop's spans in Zipkin", 150, interval=3.0)


def test_prometheus_scrapes_every_target_by_compose_service_name(compose_stack):
    """Every job of prometheus.yml has its targets up, addressed by compose service names."""
    expected = expected_targets()

    def all_up():
        response = requests.get(compose_stack.url("prometheus") + "/api/v1/targets", timeout=TIMEOUT)
        active = response.json()["data"]["activeTargets"]
        seen = {}
        for target in active:
            name = target["discoveredLabels"].get("__meta_dns_name")
            seen.setdefault(target["labels"]["job"], set()).add(
                f"dns:{name}" if name else target["labels"]["instance"])
        down = [t["scrapeUrl"] for t in active if t["health"] != "up"]
        return seen == expected and not down and seen

    poll_until(all_up, f"Prometheus to scrape {expected} with every target up", 120, interval=2.0)


def test_loadgen_baseline_traffic_shows_in_prometheus(compose_stack):
    """The load generator's journeys and the shop's requests are counted in Prometheus."""
    poll_until(lambda: query(compose_stack, "sum(increase(loadgen_requests_total[1m])) > 0"),
               "loadgen_requests_total to increase", 120, interval=2.0)
    poll_until(lambda: query(compose_stack, 'sum(increase(shop_http_request_duration_seconds_count[1m])) > 0'),
               "the shop to count requests", 60, interval=2.0)


def test_reconcile_job_exports_through_pushgateway_and_textfile(compose_stack):
    """The batch job's metrics reach Prometheus both ways: pushed (job=reconcile) and via node-exporter."""
    for job in ("reconcile", "node"):
        poll_until(lambda j=job: query(compose_stack, f'reconcile_last_run_success{{job="{j}"}}'),
                   f"reconcile_last_run_success from job {job}", 150, interval=3.0)


def scenario_alert(name):
    """The alert a scenario's runbook is about (the one that tells the story)."""
    catalog = yaml.safe_load((REPO / "loadgen" / "scenarios.yaml").read_text())
    scenario = next(s for s in catalog["scenarios"] if s["name"] == name)
    return next(alert for alert in scenario["expected_alerts"] if alert.lower() == scenario["runbook"])


def inbox_alerts(stack, alertname, status, since):
    """Alerts the inbox received with this name and status since a unix time."""
    response = requests.get(stack.url("inbox") + "/api/alerts", timeout=TIMEOUT,
                            params={"alertname": alertname, "status": status, "since": since})
    response.raise_for_status()
    return response.json()["alerts"]


def test_payments_outage_reaches_the_inbox_firing_then_resolved(compose_stack):
    """Triggered inside the loadgen container, the outage's alert arrives firing, then resolved."""
    engine = compose_stack.engine
    alertname = scenario_alert(SCENARIO)
    since = time.time()
    result = engine.exec(engine.container("loadgen"), ["docker-entrypoint", "python", "-m", "loadgen", "trigger",
                                                       SCENARIO, "--duration", "60"])
    assert result.returncode == 0, f"loadgen trigger failed: {result.stdout}{result.stderr}"
    poll_until(lambda: inbox_alerts(compose_stack, alertname, "firing", since),
               f"{alertname} to reach the inbox firing", 240, interval=3.0)
    poll_until(lambda: inbox_alerts(compose_stack, alertname, "resolved", since),
               f"{alertname} to reach the inbox resolved", 360, interval=3.0)


def test_the_watchdog_heartbeat_shows_in_the_inbox(compose_stack):
    """The dead man's switch works through the compose network: Prometheus -> Alertmanager -> the inbox's
    /heartbeat, and the inbox's page says so (issue 14 §5)."""
    def beating():
        state = requests.get(compose_stack.url("inbox") + "/api/heartbeat", timeout=TIMEOUT).json()
        return state["status"] == "ok" and state
    poll_until(beating, "the Watchdog's heartbeat to reach the inbox", 120, interval=3.0)
    assert "Alerting pipeline: last heartbeat" in requests.get(compose_stack.url("inbox") + "/", timeout=TIMEOUT).text


def test_the_synthetic_probe_measures_the_front_door(compose_stack):
    """blackbox-exporter fetches a product page through the edge for Prometheus: the outside-in SLI has data."""
    def probed():
        found = {sample["metric"]["instance"]: float(sample["value"][1])
                 for sample in query(compose_stack, 'probe_success{job="shop_probe"}')}
        return found == {"http://edge:8000/products/1": 1.0} and found
    poll_until(probed, "a successful probe of http://edge:8000/products/1", 120, interval=2.0)
    # Probes before the edge and the shop were up count as failures in the 5m window: data, mostly good.
    availability = poll_until(lambda: query(compose_stack, "job:probe_success:ratio_avg5m"),
                              "the probe's availability SLI (job:probe_success:ratio_avg5m)", 60, interval=2.0)
    assert 0.5 < float(availability[0]["value"][1]) <= 1, f"the probe's availability SLI: {availability}"
    latency = query(compose_stack, "job:probe_duration_seconds:avg5m")
    assert latency and 0 < float(latency[0]["value"][1]) < 4, f"the probe's latency SLI: {latency}"


def test_shop_down_pages_within_90_seconds_and_resolves_when_the_shop_is_back(compose_stack):
    """The shop-down scenario as a compose user runs it (`docker compose stop shop`, later `start shop`): its
    containers leave DNS, so no `up == 0` is left; the probe and ShopNoHealthyTarget page anyway."""
    engine = compose_stack.engine
    stopped_at = time.time()
    engine.run(engine.compose_command("stop", "shop"))
    try:
        for alertname in SHOP_DOWN_PAGES:
            poll_until(lambda a=alertname: inbox_alerts(compose_stack, a, "firing", stopped_at),
                       f"{alertname} to reach the inbox firing after the shop stopped", PAGE_WITHIN_SECONDS,
                       interval=2.0)
            TIMINGS[f"shop-down: {alertname} firing in the inbox after"] = time.time() - stopped_at
    finally:
        engine.run(engine.compose_command("start", "shop"))
        for container in poll_until(lambda: engine.containers("shop"), "the shop's containers to run", 60):
            poll_until(lambda c=container: engine.healthcheck(c), f"{container}'s healthcheck to pass", 120,
                       interval=1.0)
    started_at = time.time()
    for alertname in SHOP_DOWN_PAGES:
        poll_until(lambda a=alertname: inbox_alerts(compose_stack, a, "resolved", stopped_at),
                   f"{alertname} to reach the inbox resolved once the shop is back", 180, interval=2.0)
        TIMINGS[f"shop-down: {alertname} resolved in the inbox after the restart"] = time.time() - started_at


def test_sqlite_and_prometheus_data_survive_a_restart(compose_stack):
    """Orders, charges, notifications and Prometheus samples are still there after `restart`."""
    engine = compose_stack.engine
    orders = poll_until(lambda: requests.get(compose_stack.url("edge") + "/api/orders", params={"since": 0},
                                             timeout=TIMEOUT).json()["orders"], "an order to be placed", 120)
    charges = requests.get(compose_stack.url("payments") + "/charges", params={"since": 0},
                           timeout=TIMEOUT).json()["charges"]
    notifications = requests.get(compose_stack.url("inbox") + "/api/notifications", timeout=TIMEOUT).json()["count"]
    sample_time = time.time() - 20
    assert query(compose_stack, 'up{job="prometheus"}', at=sample_time), "Prometheus has no sample to keep."

    for service in ("shop", "payments", "inbox", "prometheus"):
        engine.restart(service)
    for service in ("shop", "payments", "inbox", "prometheus", "edge"):
        container = engine.container(service)
        poll_until(lambda c=container: engine.healthcheck(c), f"{container} to be healthy again", 120, interval=1.0)

    order_id = orders[0].get("id", orders[0].get("order_id"))
    response = requests.get(f"{compose_stack.url('edge')}/api/orders/{order_id}", timeout=TIMEOUT)
    assert response.status_code == 200, f"Order {order_id} is gone after the restart: {response.text}"
    after = requests.get(compose_stack.url("payments") + "/charges", params={"since": 0}, timeout=TIMEOUT).json()
    assert {c["id"] for c in charges} <= {c["id"] for c in after["charges"]}, "Charges were lost in the restart."
    count = requests.get(compose_stack.url("inbox") + "/api/notifications", timeout=TIMEOUT).json()["count"]
    assert count >= notifications, "Inbox notifications were lost in the restart."
    poll_until(lambda: query(compose_stack, 'up{job="prometheus"}', at=sample_time),
               "the sample from before the restart to be queryable again", 60)


def test_scaled_shop_replicas_are_all_discovered_and_served(compose_stack):
    """`--scale shop=2`: Prometheus's DNS discovery finds both replicas and the edge still answers."""
    engine = compose_stack.engine
    engine.scale("shop", 2)
    poll_until(lambda: len(engine.containers("shop")) == 2, "a second shop replica", 60)
    poll_until(lambda: len(query(compose_stack, 'up{job="shop"} == 1')) == 2,
               "Prometheus to scrape both shop replicas", 90, interval=2.0)
    for _ in range(4):  # several connections: the edge spreads them over the replicas
        response = requests.get(compose_stack.url("edge") + "/api/products", timeout=TIMEOUT)
        assert response.status_code == 200
