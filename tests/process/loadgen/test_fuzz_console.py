"""Fuzzing the load generator's console API (schemathesis, from /api/openapi.json) on its real server.

The console runs on its own bounded threading server (loadgen/runner.py's ConsoleServer) wired to a real
shop, payments and inbox under gunicorn, so the scenarios fuzzing starts really switch fault knobs on.
Every answer below 500 except the documented 502, every error JSON with a message, bodies as
documented, valid data accepted and invalid data refused.
"""
import pytest
import requests
from schemathesis import GenerationMode

from loadgen.config import Urls
from loadgen.console import create_app
from loadgen.runner import ConsoleServer
from loadgen.state import build_state
from processes.ports import free_port
from tests.helpers.fuzzing import fuzz, operations
from tests.helpers.servers import TEST_TOKEN, shop_and_payments, start_service

EXAMPLES = 40
PUBLISHED = {"GET /healthz", "GET /api/scenarios", "DELETE /api/scenarios", "POST /api/scenarios/{name}",
             "DELETE /api/scenarios/{name}", "GET /api/status", "PUT /api/rate", "GET /api/notifications",
             "GET /api/graphs", "GET /api/story"}
# Whose every input is valid: negative generation has nothing to make.
NOTHING_INVALID = {"GET /healthz", "GET /api/scenarios", "GET /api/status", "GET /api/graphs", "GET /api/story"}


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("console-fuzz"))
    with shop_and_payments(workdir, TEST_TOKEN, workers=1) as services:
        inbox, inbox_url = start_service("inbox", workdir, {"WEBHOOK_TOKEN": "unused-here", "FAULT_TOKEN": TEST_TOKEN},
                                         workers=1)
        # No Prometheus: the graphs answer their placeholders (tests/unit/loadgen/test_console_graphs.py draws).
        state = build_state(Urls(shop=services["shop"], payments=services["payments"], inbox=inbox_url,
                                 prometheus=f"http://127.0.0.1:{free_port()}", fault_token=TEST_TOKEN), rate=0)
        server = ConsoleServer(create_app(state), "127.0.0.1", 0).start()
        try:
            yield f"http://127.0.0.1:{server.port}", state
        finally:
            server.stop()
            state.manager.stop_all()
            inbox.stop()


def test_the_served_spec_names_the_catalog_scenarios(console):
    url, state = console
    spec = requests.get(url + "/api/openapi.json", timeout=5).json()
    assert spec["components"]["schemas"]["ScenarioName"]["enum"] == list(state.catalog)


def test_fuzzed_console_answers_clearly(console):
    url, state = console
    published = operations(url)
    assert {op.label for op in published} == PUBLISHED
    found = []
    for operation in published:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            found.append(fuzz(operation, mode, EXAMPLES, nothing_invalid=NOTHING_INVALID))
    problems = [problem for problem in found if problem]
    assert not problems, "\n\n".join(problems)
    started = state.metrics.registry.get_sample_value("loadgen_scenario_active", {"scenario": "payments-errors"})
    assert started is not None, "the scenario gauge is missing: the console's state was not the one fuzzed"
