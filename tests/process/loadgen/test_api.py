"""The load generator against a real shop and payments (gunicorn): journeys, scenario API, metrics."""
import os
import pty
import subprocess
import sys

import pytest
import requests

from app.common import dashboard_panels
from loadgen.config import Urls
from loadgen.console import create_app
from loadgen.journeys import ERROR_OUTCOMES, JOURNEYS
from loadgen.state import build_state
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.errors import assert_error
from tests.helpers.servers import REPO, start_service

TOKEN = "loadgen-test-token"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """payments, shop and the inbox (which has a fault knob too), one worker each; stopped by process id."""
    workdir = str(tmp_path_factory.mktemp("loadgen-api"))
    payments, payments_url = start_service("payments", workdir, {"FAULT_TOKEN": TOKEN}, workers=1)
    try:
        shop, shop_url = start_service("shop", workdir, {"FAULT_TOKEN": TOKEN, "PAYMENTS_URL": payments_url},
                                       workers=1)
        try:
            inbox, inbox_url = start_service("inbox", workdir, {"FAULT_TOKEN": TOKEN}, workers=1)
            try:
                yield Urls(shop=shop_url, payments=payments_url, inbox=inbox_url, fault_token=TOKEN)
            finally:
                inbox.stop()
        finally:
            shop.stop()
    finally:
        payments.stop()


@pytest.fixture
def state(services):
    """A load generator wired to the services, with traffic off; every fault is off afterwards."""
    loadgen = build_state(services, rate=0)
    yield loadgen
    loadgen.manager.stop_all()


def knob_on(urls, service, knob):
    """Whether the service reports the knob as on."""
    listing = requests.get(getattr(urls, service) + "/admin/faults", timeout=5,
                           headers={"Authorization": f"Bearer {TOKEN}"}).json()
    return any(f["name"] == knob and f["active"] for f in listing["faults"])


def gauge(state, name, **labels):
    """A sample value from the load generator's registry."""
    return state.metrics.registry.get_sample_value(name, labels)


@pytest.mark.timeout(60)
def test_every_journey_runs_against_the_real_shop_without_errors(services):
    loadgen = build_state(services, rate=30, mix={name: 1 for name in JOURNEYS}, duration=3)
    # Compare with the value before: in the test process prometheus_client runs in multiprocess mode,
    # where same-named series of two registries share one value file.
    intended_before = gauge(loadgen, "loadgen_intended_requests_total") or 0
    loadgen.traffic.start()
    assert loadgen.traffic.wait(10)
    assert loadgen.traffic.stop(drain_timeout=10)
    outcomes = loadgen.traffic.snapshot()["outcomes"]
    assert not set(outcomes) & ERROR_OUTCOMES, outcomes
    for journey in JOURNEYS:
        done = sum(gauge(loadgen, "loadgen_requests_total", journey=journey, outcome=outcome) or 0
                   for outcome in ("ok", "rejected_ok", "declined"))
        assert done > 0, f"journey {journey} never completed"
    assert gauge(loadgen, "loadgen_requests_total", journey="bad_input", outcome="rejected_ok") > 0
    assert gauge(loadgen, "loadgen_intended_requests_total") - intended_before == 90
    assert gauge(loadgen, "loadgen_request_latency_seconds_count", journey="checkout") > 0


def test_console_api_starts_and_stops_a_fault_scenario(state, services):
    client = create_app(state).test_client()
    started = client.post("/api/scenarios/payments-errors", json={"duration_seconds": 30})
    assert started.status_code == 201, started.json
    assert 25 <= started.json["seconds_left"] <= 30
    assert knob_on(services, "payments", "errors")
    assert gauge(state, "loadgen_scenario_active", scenario="payments-errors") == 1
    listed = {s["name"]: s for s in client.get("/api/scenarios").json["scenarios"]}
    assert listed["payments-errors"]["active"] and not listed["bad-deploy"]["active"]
    assert listed["payments-errors"]["runbook_url"].endswith("/runbooks#shoppaymentserrorratiohigh")
    # The card's "Dashboard: <panel>" opens that panel (Grafana's panel view where Grafana runs).
    panel_id = dashboard_panels.panel("shop-dependencies", "Payments call errors")["id"]
    assert listed["payments-errors"]["dashboard_url"].endswith(f"/d/shop-dependencies?viewPanel=panel-{panel_id}")
    stopped = client.delete("/api/scenarios/payments-errors", json={})
    assert stopped.status_code == 200 and stopped.json["active"] is None
    assert not knob_on(services, "payments", "errors")
    assert gauge(state, "loadgen_scenario_active", scenario="payments-errors") == 0


def test_console_api_refuses_what_it_cannot_do_with_sentences(state):
    client = create_app(state).test_client()
    assert_error(client.post("/api/scenarios/payments-errors", data="duration_seconds=5"), 415, "json_required")
    unknown = assert_error(client.post("/api/scenarios/disk-full", json={}), 404, "scenario_not_started")
    assert "disk-full" in unknown["message"]
    too_long = assert_error(client.post("/api/scenarios/bad-deploy", json={"duration_seconds": 86400}), 400,
                            "scenario_not_started")
    assert "from 1 to 3600" in too_long["message"]
    assert_error(client.put("/api/rate", json={"rate": -1}), 400, "invalid_rate")


def test_wrong_fault_token_is_reported_not_hidden(services):
    loadgen = build_state(Urls(shop=services.shop, payments=services.payments, fault_token="wrong"), rate=0)
    response = create_app(loadgen).test_client().post("/api/scenarios/bad-deploy", json={})
    assert response.status_code == 502
    assert "fault token is missing or wrong" in response.json["message"]
    assert gauge(loadgen, "loadgen_scenario_active", scenario="bad-deploy") == 0


def test_traffic_spike_multiplies_the_rate_until_stopped(state):
    client = create_app(state).test_client()
    state.traffic.set_base_rate(2)
    assert client.post("/api/scenarios/traffic-spike", json={"duration_seconds": 60}).status_code == 201
    spike = state.catalog["traffic-spike"].params
    expected = max(2 * spike["multiplier"], spike["minimum_rate"])
    assert client.get("/api/status").json["traffic"]["target_rate"] == expected
    assert gauge(state, "loadgen_target_rate_per_second") == expected
    client.delete("/api/scenarios/traffic-spike", json={})
    assert gauge(state, "loadgen_target_rate_per_second") == 2


def test_scenarios_expire_and_follow_knobs_switched_elsewhere(state, services):
    state.manager.start("checkout-silent-failure", 1)
    poll_until(lambda: (state.manager.tick(), not state.manager.active())[1], "the 1 s scenario to expire", 5)
    assert gauge(state, "loadgen_scenario_active", scenario="checkout-silent-failure") == 0
    # Switched on behind our back (e.g. `loadgen trigger` with no load generator running): shown as active.
    state.manager.faults.switch_on("shop", "memory_leak", {"bytes_per_request": 1024}, 30)
    state.manager.reconcile()
    assert [a["name"] for a in state.manager.active()] == ["memory-leak"]
    state.manager.faults.switch_off("shop", "memory_leak")
    state.manager.reconcile()
    assert state.manager.active() == []


def test_metrics_show_every_catalog_scenario(state):
    body = create_app(state).test_client().get("/metrics").get_data(as_text=True)
    for name in state.catalog:
        assert f'loadgen_scenario_active{{scenario="{name}"}} 0.0' in body
    assert "loadgen_target_rate_per_second 0.0" in body


def loadgen_cli(urls, *args):
    """Run `python -m loadgen ARGS` with no load generator running (direct fault control)."""
    env = dict(os.environ, SHOP_URL=urls.shop, PAYMENTS_URL=urls.payments, INBOX_URL=urls.inbox, FAULT_TOKEN=TOKEN,
               LOADGEN_URL=f"http://127.0.0.1:{free_port()}", PYTHONPATH=str(REPO))
    env.pop("STACK_CONTROL_DIR", None)  # no launcher here, as under compose
    return subprocess.run([sys.executable, "-m", "loadgen", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)


def test_cli_triggers_and_clears_directly_when_no_load_generator_runs(services):
    listing = loadgen_cli(services, "scenarios")
    assert listing.returncode == 0 and "checkout-silent-failure" in listing.stdout
    started = loadgen_cli(services, "trigger", "bad-deploy", "--duration", "30")
    assert started.returncode == 0, started.stderr
    assert "switching faults directly" in started.stderr and "ShopAvailabilityBudgetBurn" in started.stdout
    assert knob_on(services, "shop", "bad_deploy")
    cleared = loadgen_cli(services, "clear")
    assert cleared.returncode == 0, cleared.stderr
    assert not knob_on(services, "shop", "bad_deploy")
    spike = loadgen_cli(services, "trigger", "traffic-spike")
    assert spike.returncode == 2 and "start it through a running load generator" in spike.stderr
    down = loadgen_cli(services, "trigger", "shop-down")
    assert down.returncode == 2, down.stdout
    assert "run `docker compose stop shop` yourself, and `docker compose start shop` to end it." in down.stderr
    unknown = loadgen_cli(services, "trigger", "disk-full")
    assert unknown.returncode == 2 and "There is no scenario 'disk-full'" in unknown.stderr


@pytest.mark.timeout(90)
def test_run_shows_a_live_progress_line_only_on_a_terminal(services):
    env = dict(os.environ, SHOP_URL=services.shop, PAYMENTS_URL=services.payments, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "loadgen", "run", "--rate", "10", "--duration", "2.5", "--port", str(free_port())]
    controller, terminal = pty.openpty()
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=terminal)
    try:
        os.close(terminal)
        output = b""
        try:
            while True:
                chunk = os.read(controller, 4096)  # EIO once the process has exited and closed the terminal
                if not chunk:
                    break
                output += chunk
        except OSError:
            pass
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()  # by its id: only the process this test started
            process.wait(timeout=10)
        os.close(controller)
    text = output.decode()
    assert "\rtarget 10.0/s  achieved" in text and "p99" in text, text
    piped = subprocess.run(command[:-1] + [str(free_port())], env=env, cwd=REPO, capture_output=True, text=True,
                           timeout=30)
    assert piped.returncode == 0 and "achieved" not in piped.stderr
    assert "journeys in" in piped.stderr and "errors" in piped.stderr
