"""The settings the native stack's memory footprint rests on (bench part 4, goal 700 MiB RSS, issue 16).

Each one was measured (launcher/components.py, app/serve.py, app/common/gunicorn_conf.py say by how much); these
tests keep them from coming undone quietly: a gunicorn master that imports the app's libraries again, a second
payments worker, the Go programs back on their default garbage collection.
"""
import subprocess
import sys

import pytest

from app.serve import SERVICES
from launcher import components
from launcher.stack import Stack
from tests.helpers import compose_checks as checks
from tests.helpers.paths import REPO

GO_PROGRAMS = ("prometheus", "alertmanager", "pushgateway", "node_exporter", "blackbox_exporter")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A native stack's description (nothing started)."""
    return Stack(str(tmp_path_factory.mktemp("stack")), fast=True)


def test_gunicorn_masters_import_none_of_the_apps_libraries():
    """gunicorn's master reads the config module and never serves: Flask, OpenTelemetry and prometheus_client
    there cost every master ~12 MiB (the hooks import them when they run, in the worker)."""
    probe = ("import sys, app.common.gunicorn_conf; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'opentelemetry', 'prometheus_client'}))")
    found = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]", f"app.common.gunicorn_conf imports {found.stdout.strip()} in the master"


def test_payments_runs_one_worker_with_the_threads_of_two_natively_and_under_compose():
    _app, _port_variable, _port, workers_variable, workers, threads = SERVICES["payments"]
    assert (workers, threads) == (1, 8), "payments: one worker of 8 threads (a second worker cost ~40 MiB)"
    assert SERVICES["shop"][4] >= 2, "the shop keeps several workers: merging their files is the lesson"
    compose = checks.load(REPO / "docker-compose.yml")
    assert compose["services"]["payments"]["environment"][workers_variable] == str(workers)


@pytest.mark.parametrize("program", GO_PROGRAMS)
def test_go_programs_collect_garbage_sooner_than_their_default(stack, program):
    gogc = components.build(program, stack).env.get("GOGC")
    assert gogc is not None and int(gogc) <= 50, f"{program} runs with GOGC={gogc}, its default lets its heap grow"
