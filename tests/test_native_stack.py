"""The native stack: rendered configs match the compose ones but for addresses; `make local` starts and stops cleanly."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from native import binaries, components, config
from native.ports import free_port
from native.stack import REPO, Stack
from native.waiting import poll_until


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


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_make_local_starts_everything_and_stops_every_process_on_sigterm(tmp_path):
    ports = {name: free_port() for name in components.DEFAULT_PORTS}
    env = dict(os.environ, **{components.PORT_VARIABLES[name]: str(port) for name, port in ports.items()},
               LOADGEN_RATE="2", PYTHONPATH=REPO)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    workdir = tmp_path / "local"
    log = open(tmp_path / "make-local.log", "w+")
    launcher = subprocess.Popen([sys.executable, "-m", "native", "--workdir", str(workdir), "--fast"], cwd=REPO,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            log.seek(0)
            text = log.read()
            if launcher.poll() is not None:
                raise AssertionError(f"make local exited early:\n{text}")
            return "The stack is up" in text
        poll_until(up, "make local to print that the stack is up", 120)
        log.seek(0)
        printed = log.read()
        running = [name for name in components.ORDER if name != "grafana"]
        for name in running:
            if name in ports:
                assert f"http://127.0.0.1:{ports[name]}" in printed, f"{name}'s URL is not printed"
                assert port_open(ports[name]), f"{name} is not listening"
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
        for name, port in ports.items():
            poll_until(lambda: not port_open(port), f"{name} to stop listening on {port}", 15)
        leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout.split()
        assert not leftovers, f"processes still running after make local stopped: {leftovers}"
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait(timeout=10)
        log.close()
