"""The load generator sends its last journeys' spans before it ends: a bounded run, and a run stopped by SIGTERM.

A real shop and payments under gunicorn; the load generator's spans go to a local Zipkin v2 receiver (a real
HTTP server). Its batch processor holds spans for up to 5 s, so a run shorter than that would lose every span
it did not flush. Each journey is one root span `journey checkout`: as many must have arrived, the moment
the run is over, as journeys ran (a dropped journey never started one).
"""
import ast
import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from loadgen import journeys, runner
from loadgen.config import Urls
from loadgen.state import build_state
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.servers import REPO, shop_and_payments
from tests.helpers.span_receiver import by_service

TOKEN = "loadgen-span-flush-token"
MIX = {"checkout": 1.0}  # every journey reaches the shop and payments


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """shop and payments, one worker each, no random declines."""
    with shop_and_payments(str(tmp_path_factory.mktemp("span-flush")), TOKEN,
                           payments_env={"PAYMENTS_DECLINE_RATIO": "0"}, workers=1) as running:
        yield running


def journey_roots(spans, before=0):
    """The root spans of checkout journeys the load generator sent after the first `before` spans."""
    return [span for span in by_service(spans[before:], "loadgen") if span["name"] == "journey checkout"
            and "parentId" not in span]


def started(outcomes):
    """How many journeys ran (each one a root span): every outcome but `dropped`."""
    return sum(count for outcome, count in outcomes.items() if outcome != "dropped")


@pytest.fixture
def signal_handlers():
    """`runner.run` takes over SIGINT and SIGTERM: give pytest's back afterwards."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_a_bounded_run_returns_with_its_last_journeys_spans_sent(services, receiver, monkeypatch, signal_handlers):
    endpoint, spans = receiver
    monkeypatch.setattr(journeys.LOADGEN_TRACING, "endpoint", endpoint)  # in this process, as the environment would
    monkeypatch.setattr(journeys.LOADGEN_TRACING, "ratio", 1.0)
    before = len(spans)
    state = build_state(Urls(shop=services["shop"], payments=services["payments"], fault_token=TOKEN), rate=4,
                        mix=MIX, duration=2)
    assert runner.run(state, "127.0.0.1", free_port(), duration=2, log=lambda _text: None) == 0
    ran = started(state.traffic.snapshot()["outcomes"])
    assert ran >= 4
    # No waiting: run() returned, so every journey's span has been sent, the last one's included.
    assert len(journey_roots(spans, before)) == ran, f"{ran} journeys ran, {len(journey_roots(spans, before))} sent"


def test_a_run_stopped_by_sigterm_sends_its_spans_before_it_exits(services, receiver, tmp_path):
    endpoint, spans = receiver
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), SHOP_URL=services["shop"], PAYMENTS_URL=services["payments"],
               FAULT_TOKEN=TOKEN, OTEL_EXPORTER_ZIPKIN_ENDPOINT=endpoint, TRACING_SAMPLE_RATIO="1.0")
    before = len(spans)
    log = open(tmp_path / "loadgen.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "loadgen", "run", "--rate", "4", "--mix", "checkout=1",
                                "--port", str(port), "--quiet"], env=env, cwd=REPO, stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        poll_until(lambda: requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).ok
                   and "loadgen_requests_total{" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text,
                   "the load generator to finish its first journeys", 30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        log.seek(0)
        said = log.read()
        log.close()
    outcomes = re.search(r"outcomes (\{.*?\})", said)
    assert outcomes, said
    ran = started(ast.literal_eval(outcomes.group(1)))  # the dict the load generator printed
    assert ran >= 1 and len(journey_roots(spans, before)) == ran, said
