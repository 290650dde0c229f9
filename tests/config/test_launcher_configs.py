"""The native stack's rendered configs: valid, the compose ones but for addresses, linking to its own ports."""
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from grafana.boards import BOARDS
from launcher import binaries, components, config
from launcher.stack import Stack
from tests.helpers.paths import REPO


def rendered(tmp_path, fast):
    stack = Stack(str(tmp_path / ("fast" if fast else "slow")), fast=fast)
    stack.render_configs()
    return stack


@pytest.mark.parametrize("fast", [False, True])
def test_native_prometheus_config_passes_promtool(tmp_path, fast):
    stack = rendered(tmp_path, fast)
    result = subprocess.run([binaries.find("promtool"), "check", "config", stack.prometheus_config],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_native_and_compose_prometheus_configs_differ_only_in_addresses(tmp_path):
    stack = rendered(tmp_path, fast=False)
    native = config.load_yaml(stack.prometheus_config)
    compose = config.load_yaml(config.PROMETHEUS_CONFIG)
    assert config.address_free_prometheus(native) == config.address_free_prometheus(compose)
    targets = {scrape["job_name"]: scrape["file_sd_configs"] for scrape in native["scrape_configs"]}
    assert set(targets) == set(components.JOBS) | set(components.PROBE_JOBS), \
        "every job in prometheus.yml must map to a native component"


def test_native_probe_goes_through_the_local_exporter_to_the_local_shop(tmp_path):
    """The compose probe targets the edge through blackbox-exporter:9115; natively the shop's own port (the
    front door there) through the local exporter; without a local exporter, nothing is probed."""
    stack = rendered(tmp_path, fast=True)
    native = config.load_yaml(stack.prometheus_config)
    probe = next(scrape for scrape in native["scrape_configs"] if scrape["job_name"] == "shop_probe")
    exporter = [relabel["replacement"] for relabel in probe["relabel_configs"]
                if relabel["target_label"] == "__address__"]
    assert exporter == [f"127.0.0.1:{stack.port('blackbox_exporter')}"], exporter
    assert (probe["scrape_interval"], probe["scrape_timeout"]) == ("5s", "4s"), \
        "fast mode must not cut the probe's timeout to a fast scrape's 1 s (a slow page is not a dead shop)"
    with open(probe["file_sd_configs"][0]["files"][0]) as target_file:
        assert json.load(target_file) == [{"targets": [stack.url("shop") + "/products/1"], "labels": {}}]
    without = Stack(str(tmp_path / "no-exporter"), fast=True,
                    services=[name for name in components.ORDER if name != "blackbox_exporter"])
    without.render_configs()
    probe = next(scrape for scrape in config.load_yaml(without.prometheus_config)["scrape_configs"]
                 if scrape["job_name"] == "shop_probe")
    with open(probe["file_sd_configs"][0]["files"][0]) as target_file:
        assert json.load(target_file) == [], "a probe with no exporter to run it"


def test_address_comparison_notices_a_changed_interval(tmp_path):
    stack = rendered(tmp_path, fast=True)  # fast mode changes intervals: not only addresses
    native = config.load_yaml(stack.prometheus_config)
    compose = config.load_yaml(config.PROMETHEUS_CONFIG)
    assert config.address_free_prometheus(native) != config.address_free_prometheus(compose)


def test_native_alertmanager_config_points_at_local_inbox_and_passes_amtool(tmp_path):
    stack = rendered(tmp_path, fast=True)
    with open(stack.alertmanager_config) as rendered_file:
        text = rendered_file.read()
    assert "inbox:8002" not in text and stack.url("inbox") in text
    route = yaml.safe_load(text)["route"]
    assert route["group_wait"] == "1s"
    result = subprocess.run([binaries.find("amtool"), "check-config", stack.alertmanager_config],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_default_ports_are_the_ports_compose_publishes():
    """`make local` listens where `docker compose up` publishes: the *_HOST_PORT lines of .env, not a copy."""
    published = dict(re.findall(r"^([A-Z_]+)_HOST_PORT=(\d+)$", (REPO / ".env").read_text(), re.MULTILINE))
    assert components.DEFAULT_PORTS == {name.lower(): int(port) for name, port in published.items()}
    assert set(components.DEFAULT_PORTS) == {name for name in components.ORDER if name != "reconcile"}


@pytest.fixture
def shifted(tmp_path, monkeypatch):
    """A `make local` stack on shifted ports (INBOX_PORT=18002, ...), its configs rendered."""
    ports = {name: 10000 + port for name, port in components.DEFAULT_PORTS.items()}
    for name, port in ports.items():
        monkeypatch.setenv(components.PORT_VARIABLES[name], str(port))
    stack = Stack(str(tmp_path / "local"), fast=False, fixed_ports=True)
    stack.render_configs()
    assert stack.port("inbox") == ports["inbox"] == 18002
    return stack


def test_native_rule_files_link_every_alert_to_the_inbox_the_stack_runs(shifted):
    loaded = config.load_yaml(shifted.prometheus_config)["rule_files"]
    alerts = [rule for path in loaded for group in config.load_yaml(path)["groups"] for rule in group["rules"]
              if "alert" in rule]
    assert len({rule["alert"] for rule in alerts}) >= 11, "every alert of the loaded rule files"
    for rule in alerts:
        assert rule["annotations"]["runbook_url"] == f"http://localhost:18002/runbooks#{rule['alert'].lower()}"
    rendered = {os.path.basename(path) for path in loaded if path.startswith(shifted.rules_dir)}
    assert rendered == {"shop-alerts.yml", "monitoring-alerts.yml", "slo-demo.yml"}, \
        "the generated files it loads, rendered in its work dir"


def test_native_dashboards_link_to_the_ports_the_stack_runs(shifted):
    provider, = config.load_yaml(os.path.join(shifted.grafana_provisioning, "dashboards", "shop.yml"))["providers"]
    assert provider["options"]["path"] == shifted.grafana_dashboards
    texts = [path.read_text() for path in sorted(Path(shifted.grafana_dashboards).glob("*.json"))]
    assert len(texts) == len(BOARDS)
    for text in texts:
        assert set(re.findall(r"https?://[^/\"\s)]+", text)) == {"http://localhost:18002", "http://localhost:18089"}
    prometheus = components.build("prometheus", shifted).command
    assert "--web.external-url=http://localhost:19090" in prometheus


def test_native_grafana_datasources_read_the_local_prometheus_and_zipkin(shifted):
    datasources = {source["uid"]: source["url"] for name in ("prometheus.yml", "zipkin.yml") for source in
                   config.load_yaml(os.path.join(shifted.grafana_provisioning, "datasources", name))["datasources"]}
    assert datasources == {"prometheus": shifted.url("prometheus"), "zipkin": shifted.url("zipkin")}


def test_no_prometheus_enables_its_lifecycle_api(tmp_path):
    """A form POST from any page to /-/quit would stop Prometheus; nothing here needs that API."""
    native = Stack(str(tmp_path / "lifecycle"), fast=True)
    native.render_configs()
    command = " ".join(components.build("prometheus", native).command)
    compose = (REPO / "docker-compose.yml").read_text()
    assert "--web.enable-lifecycle" not in command, command
    assert "enable-lifecycle" not in compose, "docker-compose.yml enables Prometheus's lifecycle API"


def test_the_native_inbox_links_where_a_shifted_stack_listens(shifted):
    """The inbox is told the public addresses (runbooks page, alerts' runbook links: app/inbox/public_links.py);
    Prometheus and Alertmanager put their own in every alert's links."""
    from app.inbox.public_links import DOCUMENT_BASES
    assert set(components.PUBLIC_LINKED) == set(DOCUMENT_BASES), "the launcher's copy of the inbox's linked components"
    env = components.build("inbox", shifted).env
    assert {key: env[key] for key in ("INBOX_PUBLIC_URL", "GRAFANA_PUBLIC_URL", "PROMETHEUS_PUBLIC_URL")} == {
        "INBOX_PUBLIC_URL": "http://localhost:18002", "GRAFANA_PUBLIC_URL": "http://localhost:13000",
        "PROMETHEUS_PUBLIC_URL": "http://localhost:19090"}
    assert "--web.external-url=http://localhost:19093" in components.build("alertmanager", shifted).command


def test_the_printed_exports_point_the_loadgen_cli_at_a_shifted_stack(shifted):
    """Evaluated as a shell would, the lines `make local` prints give `loadgen` this stack's URLs and token."""
    from loadgen.config import URL_VARIABLES, urls_from_env
    env = {}
    for line in shifted.cli_exports():
        words = shlex.split(line)
        assert words[0] == "export", line
        env.update(word.split("=", 1) for word in words[1:])
    urls = urls_from_env(env)
    for name in URL_VARIABLES:
        assert getattr(urls, name) == shifted.url(name), name
    assert urls.shop.endswith(":18000") and urls.fault_token == shifted.fault_token
