"""The reconcile batch job against real shop, payments and Pushgateway processes, and its schedule loop."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from app.batch.compare import compare
from native import binaries
from native.ports import free_port
from native.processes import ManagedProcess
from native.waiting import poll_until
from tests.metrics_reading import scrape, value
from tests.servers import REPO, start_service

TEST_TOKEN = "batch-test-token-not-secret"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CARD = "4242424242424242"
GROUP = {"job": "reconcile", "instance": ""}
RUN_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    """A real Pushgateway on a free loopback port, starting empty."""
    workdir = tmp_path_factory.mktemp("pushgateway")
    port = free_port()
    # Debian's build defaults --persistence.file to /var/lib/prometheus/pushgateway.data, shared by
    # every Pushgateway on the machine: an empty value keeps this one's state in memory only.
    command = [binaries.find("pushgateway"), f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="]
    process = ManagedProcess("pushgateway", command, dict(os.environ), str(workdir / "pushgateway.log")).start()
    url = f"http://127.0.0.1:{port}"
    try:
        poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, "the Pushgateway to be ready", 20)
        yield url
    finally:
        process.stop()


@pytest.fixture
def services(tmp_path):
    """Fresh payments and shop processes (empty databases) wired together: {"shop": url, "payments": url}."""
    workdir = str(tmp_path / "services")
    # No random declines: every checkout of the test must succeed.
    payments, payments_url = start_service("payments", workdir,
                                           {"FAULT_TOKEN": TEST_TOKEN, "PAYMENTS_DECLINE_RATIO": "0"}, workers=1)
    try:
        shop, shop_url = start_service("shop", workdir, {"FAULT_TOKEN": TEST_TOKEN, "PAYMENTS_URL": payments_url},
                                       workers=1)
    except BaseException:
        payments.stop()
        raise
    try:
        yield {"shop": shop_url, "payments": payments_url}
    finally:
        shop.stop()
        payments.stop()


def place_order(shop_url):
    """Check out a one-item cart through the shop's JSON API; return the shop's answer."""
    cart_id = requests.post(shop_url + "/api/carts", timeout=10).json()["id"]
    requests.post(f"{shop_url}/api/carts/{cart_id}/items", json={"product_id": 1, "quantity": 2}, timeout=10)
    response = requests.post(f"{shop_url}/api/carts/{cart_id}/checkout", json={"card_number": CARD}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def set_fault(url, name, on):
    """Switch a fault knob on (for a minute at most) or off."""
    if on:
        response = requests.put(f"{url}/admin/faults/{name}", json={"duration_seconds": 60}, headers=AUTH, timeout=5)
    else:
        response = requests.delete(f"{url}/admin/faults/{name}", headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text


def reconcile(services, *args):
    """Run `python -m app.batch.reconcile` by hand, as an operator would; return the completed process."""
    env = dict(os.environ, SHOP_URL=services["shop"], PAYMENTS_URL=services["payments"], PYTHONPATH=REPO)
    # The test process's PROMETHEUS_MULTIPROC_DIR is inherited on purpose: the job must not be affected by it.
    for variable in ("PUSHGATEWAY_URL", "TEXTFILE_DIR"):
        env.pop(variable, None)
    return subprocess.run([sys.executable, "-m", "app.batch.reconcile", "--settle-seconds", "0", *args],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)


def textfile_samples(path):
    """The textfile's samples, keyed like metrics_reading.scrape."""
    from prometheus_client.parser import text_string_to_metric_families
    with open(path) as textfile:
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(textfile.read()) for s in family.samples}


def promtool_check(path):
    """Lint an exposition file with `promtool check metrics`."""
    with open(path, "rb") as textfile:
        return subprocess.run([binaries.find("promtool"), "check", "metrics"], stdin=textfile,
                              capture_output=True, text=True, timeout=30)


@pytest.mark.slow
def test_success_then_failure_keeps_the_last_success_in_both_exports(services, pushgateway, tmp_path):
    textfile = str(tmp_path / "textfile" / "reconcile.prom")
    place_order(services["shop"])
    place_order(services["shop"])
    set_fault(services["shop"], "checkout_silent_failure", True)
    try:
        place_order(services["shop"])  # charged, answered "placed", but no order stored
    finally:
        set_fault(services["shop"], "checkout_silent_failure", False)

    started = time.time()
    run = reconcile(services, "--pushgateway", pushgateway, "--textfile", textfile)
    assert run.returncode == 0, run.stderr
    assert "compared 5 records and found 1 mismatch" in run.stderr
    log = json.loads(run.stdout.splitlines()[-1])
    assert log["mismatches"]["charge_without_order"] == 1 and log["examples"][0]["kind"] == "charge_without_order"
    pushed = scrape(pushgateway)
    success_time = value(pushed, "reconcile_last_success_timestamp_seconds", **GROUP)
    assert started <= success_time <= time.time()
    assert value(pushed, "reconcile_last_run_success", **GROUP) == 1
    assert value(pushed, "reconcile_records_processed", **GROUP) == 5  # 3 charges + 2 orders
    assert value(pushed, "reconcile_mismatches", **GROUP) == 1
    assert value(pushed, "reconcile_duration_seconds", **GROUP) > 0
    assert ("reconcile_last_failure_timestamp_seconds", frozenset(GROUP.items())) not in pushed  # never failed
    written = textfile_samples(textfile)
    assert value(written, "reconcile_last_success_timestamp_seconds") == success_time
    assert value(written, "reconcile_mismatches") == 1
    assert os.listdir(os.path.dirname(textfile)) == ["reconcile.prom"]  # no temp file left behind

    set_fault(services["payments"], "export_errors", True)
    try:
        failed = reconcile(services, "--pushgateway", pushgateway, "--textfile", textfile)
    finally:
        set_fault(services["payments"], "export_errors", False)
    assert failed.returncode == 1
    assert "Reconcile failed and recorded in its metrics" in failed.stderr and "/charges" in failed.stderr
    for samples in (scrape(pushgateway), textfile_samples(textfile)):
        labels = GROUP if ("reconcile_last_run_success", frozenset(GROUP.items())) in samples else {}
        assert value(samples, "reconcile_last_run_success", **labels) == 0
        assert value(samples, "reconcile_last_success_timestamp_seconds", **labels) == success_time
        assert value(samples, "reconcile_last_failure_timestamp_seconds", **labels) > success_time
        assert value(samples, "reconcile_mismatches", **labels) == 1  # from the last run that got that far
    lint = promtool_check(textfile)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    again = reconcile(services, "--pushgateway", pushgateway)
    assert again.returncode == 0, again.stderr
    assert value(scrape(pushgateway), "reconcile_last_run_success", **GROUP) == 1


@pytest.mark.slow
def test_unreachable_payments_or_pushgateway_are_clear_failures(services, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    textfile = str(tmp_path / "reconcile.prom")
    down = reconcile(dict(services, payments=closed), "--textfile", textfile)
    assert down.returncode == 1
    assert f"Reading {closed}/charges failed after 3 attempts: could not connect" in down.stderr
    assert value(textfile_samples(textfile), "reconcile_last_run_success") == 0

    no_gateway = reconcile(services, "--pushgateway", closed)
    assert no_gateway.returncode == 3
    assert f"metrics were not exported: Pushing to {closed} failed" in no_gateway.stderr

    usage = reconcile(services)
    assert usage.returncode == 2 and "Nowhere to export the metrics" in usage.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_schedule_runs_on_its_interval_and_stops_cleanly(services, tmp_path, signum):
    textfile = str(tmp_path / "reconcile.prom")
    log_path = tmp_path / "schedule.log"
    env = dict(os.environ, SHOP_URL=services["shop"], PAYMENTS_URL=services["payments"], PYTHONPATH=REPO,
               RECONCILE_INTERVAL_SECONDS="1", TEXTFILE_DIR=str(tmp_path))
    env.pop("PUSHGATEWAY_URL", None)
    schedule = ManagedProcess("schedule", [sys.executable, "-m", "app.batch.schedule", "--settle-seconds", "0"],
                              env, str(log_path), cwd=REPO).start()
    try:
        def runs_finished():
            """The "run finished" log lines so far."""
            lines = [json.loads(line) for line in log_path.read_text().splitlines()]
            return [line for line in lines if line["message"] == "run finished"]
        runs = poll_until(lambda: len(runs_finished()) >= 2 and runs_finished(), "two scheduled runs", 20)
        assert all(run["exit_code"] == 0 for run in runs)
        assert runs[1]["ts"] - runs[0]["ts"] == pytest.approx(1.0, abs=0.5)
        assert value(textfile_samples(textfile), "reconcile_last_run_success") == 1
        os.kill(schedule.pid, signum)
        assert schedule.process.wait(timeout=15) == 0
    finally:
        schedule.stop()
    messages = [json.loads(line)["message"] for line in log_path.read_text().splitlines()]
    assert messages[0] == "schedule started" and messages[-1] == "schedule stopped" and "stop requested" in messages


def prometheus_query(stack, expression):
    """An instant query against the stack's Prometheus; the result vector."""
    response = requests.get(stack.url("prometheus") + "/api/v1/query", params={"query": expression}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"]["result"]


@pytest.mark.slow
def test_a_run_against_the_native_pushgateway_is_visible_in_prometheus(native_stack):
    stack = native_stack
    services = {"shop": stack.url("shop"), "payments": stack.url("payments")}
    run = reconcile(services, "--pushgateway", stack.url("pushgateway"),
                    "--textfile", os.path.join(stack.textfile_dir, "reconcile.prom"))
    assert run.returncode == 0, run.stderr
    finished = json.loads(run.stdout.splitlines()[-1])["ts"] - 1  # log time is rounded to ms

    def seen(job):
        """This run's (or a later scheduled run's) success, as Prometheus scraped it for `job`."""
        return prometheus_query(stack, f'reconcile_last_success_timestamp_seconds{{job="{job}"}} >= {finished}'
                                       f' and on() reconcile_last_run_success{{job="{job}"}} == 1')
    # Through the Pushgateway (honor_labels keeps job="reconcile") and through node_exporter's textfile collector.
    for job in ("reconcile", "node"):
        poll_until(lambda: seen(job), f"Prometheus to scrape the run's success from job {job}", 30)
    for name in ("reconcile_duration_seconds", "reconcile_records_processed", "reconcile_mismatches"):
        assert prometheus_query(stack, f'{name}{{job="reconcile"}}'), name


def test_compare_judges_only_the_window_and_uses_partners_outside_it():
    start, end = 1000.0, 2000.0
    charges = [
        {"id": "c-before", "order_ref": "r0", "amount_cents": 100, "created_at": 990.0},  # partner only
        {"id": "c-ok", "order_ref": "r1", "amount_cents": 500, "created_at": 1500.0},
        {"id": "c-lost", "order_ref": "r2", "amount_cents": 700, "created_at": 1600.0},
        {"id": "c-wrong", "order_ref": "r3", "amount_cents": 900, "created_at": 1700.0},
        {"id": "c-too-young", "order_ref": "r4", "amount_cents": 300, "created_at": 2010.0},
    ]
    orders = [
        {"id": 1, "charge_id": "c-before", "total_cents": 100, "created_at": 1001.0},
        {"id": 2, "charge_id": "c-ok", "total_cents": 500, "created_at": 1501.0},
        {"id": 3, "charge_id": "c-wrong", "total_cents": 800, "created_at": 1701.0},
        {"id": 4, "charge_id": "c-missing", "total_cents": 200, "created_at": 1800.0},
    ]
    result = compare(orders, charges, start, end)
    assert result.mismatches == {"charge_without_order": 1, "order_without_charge": 1, "amount_differs": 1}
    assert result.records_processed == 3 + 4
    assert {example["kind"] for example in result.examples} == set(result.mismatches)
    assert compare(orders[:2], charges[:2], start, end).mismatch_count == 0
