"""The native stack's rendered configs: valid, and the compose ones but for addresses."""
import subprocess

import pytest
import yaml

from launcher import binaries, components, config
from launcher.stack import Stack


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
    assert set(targets) == set(components.JOBS), "every job in prometheus.yml must map to a native component"


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


