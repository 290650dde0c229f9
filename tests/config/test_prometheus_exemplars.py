"""Prometheus keeps the exemplars our OpenMetrics /metrics carries: feature flag, storage size, scrape protocol.

Prometheus 3.16 still stores exemplars only behind `--enable-feature=exemplar-storage`; the config
file's `storage.exemplars.max_exemplars` sizes its in-memory ring; exemplars only travel in
OpenMetrics, so OpenMetrics must come first in `scrape_protocols`.
"""
import subprocess

import yaml

from launcher import binaries, components
from launcher.stack import Stack
from tests.helpers.paths import REPO
from tests.helpers.rule_files import PROMETHEUS_DIR, load_yaml

FLAG = "--enable-feature=exemplar-storage"


def test_prometheus_yml_sizes_exemplar_storage_and_asks_for_openmetrics_first():
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert config["storage"]["exemplars"]["max_exemplars"] > 0
    protocols = config["global"]["scrape_protocols"]
    assert protocols[0] == "OpenMetricsText1.0.0", "only OpenMetrics carries exemplars: ask for it first"
    assert "PrometheusText0.0.4" in protocols, "targets without OpenMetrics must still be scraped"
    assert not any("scrape_protocols" in job for job in config["scrape_configs"]), "no job may override it"


def test_compose_and_native_prometheus_enable_exemplar_storage(tmp_path):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert FLAG in compose["services"]["prometheus"]["command"]
    stack = Stack(str(tmp_path / "stack"), fast=True)
    stack.render_configs()
    assert FLAG in components.build("prometheus", stack).command
    native = load_yaml(stack.prometheus_config)
    assert native["storage"] == load_yaml(PROMETHEUS_DIR / "prometheus.yml")["storage"]
    assert native["global"]["scrape_protocols"][0] == "OpenMetricsText1.0.0"


def test_the_pinned_prometheus_knows_the_feature_flag():
    """A flag the pinned version dropped (or renamed) would stop Prometheus at start: its --help lists it."""
    result = subprocess.run([binaries.find("prometheus"), "--help"], capture_output=True, text=True, timeout=30)
    assert "exemplar-storage" in result.stdout + result.stderr
