"""The reconcile batch job against real shop, payments and Pushgateway processes, and its schedule loop."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from launcher import binaries
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers import servers
from tests.helpers.batch_runs import reconcile
from tests.helpers.metrics_reading import scrape, value
from tests.helpers.servers import REPO, start_service

TEST_TOKEN = "batch-test-token-not-secret"
AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
CARD = "4242424242424242"
GROUP = {"job": "reconcile", "instance": ""}


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory):
    """A real Pushgateway on a free loopback port, starting empty."""
    with servers.pushgateway(str(tmp_path_factory.mktemp("pushgateway"))) as url:
        yield url


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




def worker_pids(master_pid):
    """The gunicorn master's worker processes (its children)."""
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
        return [int(pid) for pid in children.read().split()]


def test_a_shop_worker_killed_between_charge_and_order_leaves_a_flagged_charge_a_retry_completes(tmp_path):
    workdir = str(tmp_path / "crash")
    # Two workers each: one holds the checkout (or the slow charge) while the other answers the test.
    payments, payments_url = start_service("payments", workdir, {"FAULT_TOKEN": TEST_TOKEN,
                                                                 "PAYMENTS_DECLINE_RATIO": "0"})
    shop = None
    try:
        shop, shop_url = start_service("shop", workdir, {"FAULT_TOKEN": TEST_TOKEN, "PAYMENTS_URL": payments_url,
                                                         "PAYMENTS_CHARGE_TIMEOUT_SECONDS": "20"})
        services = {"shop": shop_url, "payments": payments_url}
        placed = [place_order(shop_url) for _ in range(3)]  # pages of one order: the job follows the cursor
        cart_id = requests.post(shop_url + "/api/carts", timeout=10).json()["id"]
        requests.post(f"{shop_url}/api/carts/{cart_id}/items", json={"product_id": 3, "quantity": 1}, timeout=10)
        requests.put(f"{payments_url}/admin/faults/latency", json={"median_seconds": 2.0, "sigma": 0.0},
                     headers=AUTH, timeout=5).raise_for_status()
        crashed = {}

        def checkout():
            try:
                crashed["response"] = requests.post(f"{shop_url}/api/carts/{cart_id}/checkout",
                                                    json={"card_number": CARD}, timeout=30)
            except requests.RequestException as error:
                crashed["error"] = error

        customer = threading.Thread(target=checkout)
        customer.start()
        poll_until(lambda: value(scrape(shop_url), "shop_dependency_requests_in_progress", peer="payments",
                                 operation="charge") >= 1, "the checkout's charge to be in flight", 10)
        for pid in worker_pids(shop.pid):  # the crash: every shop worker dies while payments charges
            os.kill(pid, signal.SIGKILL)
        customer.join(timeout=30)
        assert "error" in crashed, f"the checkout was not cut off: {crashed}"

        def orphan():
            charges = requests.get(f"{payments_url}/charges?since=0", timeout=10).json()["charges"]
            return [charge for charge in charges if charge["order_ref"] == f"cart-{cart_id}"]
        charge = poll_until(orphan, "payments to store the charge of the killed checkout", 20)[0]
        requests.delete(f"{payments_url}/admin/faults/latency", headers=AUTH, timeout=5).raise_for_status()
        poll_until(lambda: requests.get(shop_url + "/healthz", timeout=1).ok, "new shop workers", 20)

        textfile = str(tmp_path / "reconcile.prom")
        run = reconcile(services, "--textfile", textfile, "--orders-page-size", "1")
        assert run.returncode == 0, run.stderr
        assert "compared 7 records and found 1 mismatch" in run.stderr  # 4 charges, 3 orders
        written = textfile_samples(textfile)
        assert value(written, "reconcile_charges_without_order") == 1
        assert json.loads(run.stdout.splitlines()[-1])["examples"][0]["charge_id"] == charge["id"]

        # The customer tries again: the frozen cart, the same key, the same charge; now with its order.
        retried = requests.post(f"{shop_url}/api/carts/{cart_id}/checkout", json={"card_number": CARD}, timeout=30)
        assert retried.status_code == 201, retried.text
        assert retried.json()["charge_id"] == charge["id"] and retried.json()["total_cents"] == charge["amount_cents"]
        assert len(orphan()) == 1
        again = reconcile(services, "--textfile", textfile, "--orders-page-size", "1")
        assert "compared 8 records and found 0 mismatch" in again.stderr, again.stderr
        assert value(textfile_samples(textfile), "reconcile_charges_without_order") == 0
        assert len({order["id"] for order in placed}) == 3
    finally:
        if shop is not None:
            shop.stop()
        payments.stop()
