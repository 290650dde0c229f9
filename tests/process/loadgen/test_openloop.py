"""The open-loop schedule against a real HTTP server that stalls for one second.

A closed-loop generator would wait out the stall, send fewer requests and
report fast responses (coordinated omission). Ours keeps the schedule: the
requests scheduled during the stall report latencies that include the wait,
and the server receives the target rate over the run.
"""
import http.server
import threading
import time

import pytest

from loadgen.journeys import ShopClient
from loadgen.openloop import OpenLoop
from processes.ports import free_port
from processes.waiting import poll_until

RATE = 50.0
DURATION = 4.0
STALL_START, STALL_SECONDS = 1.5, 1.0
# Margins for timings on a shared two-core machine. The open loop sends exactly the scheduled count;
# the server may see up to 2% of it land after the measured run ends.
RATE_TOLERANCE = 0.02
# The stub server answers in about a millisecond; outside the stall, 0.5 s (500x that, half the stall)
# still tells "the stall was smeared onto other requests" from scheduling noise.
FAST_LATENCY_BOUND_SECONDS = 0.5


class Server(http.server.ThreadingHTTPServer):
    """socketserver's default listen backlog (5) would drop SYNs under 50 concurrent connects."""
    request_queue_size = 256
    daemon_threads = True


class StallingServer:
    """A threaded HTTP server that holds every request arriving during a stall window until it ends."""

    def __init__(self):
        self.arrivals = []
        self.stall = (float("inf"), float("inf"))
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                now = time.monotonic()
                with owner.lock:
                    owner.arrivals.append(now)
                start, end = owner.stall
                if start <= now < end:
                    time.sleep(end - now)
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):
                pass

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    with StallingServer() as running:
        yield running


def run_against(server, workers):
    """Run the open loop for DURATION with a stall in the middle; return (loop, results)."""
    client = ShopClient(server.url, timeout=(2.0, 5.0))
    results = []
    lock = threading.Lock()

    def task(_label):
        client.call("GET", "/item")
        return "ok"

    def record(label, outcome, latency, scheduled):
        with lock:
            results.append((scheduled, outcome, latency))

    loop = OpenLoop(task, RATE, on_result=record, duration=DURATION, workers=workers, max_backlog=500)
    start = time.monotonic() + 0.2
    server.stall = (start + STALL_START, start + STALL_START + STALL_SECONDS)
    while time.monotonic() < start:  # align the schedule's start with the stall window's origin
        time.sleep(0.005)
    loop.start()
    assert loop.wait(DURATION + 5), "the schedule did not finish"
    assert loop.stop(drain_timeout=10), "journeys were still running after the drain timeout"
    return loop, start, sorted(results)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers", [64, 10], ids=["enough-workers", "fewer-workers-than-stalled-requests"])
def test_stall_shows_up_as_latency_and_the_rate_holds(server, workers):
    loop, start, results = run_against(server, workers)
    stall_start, stall_end = server.stall

    # Every scheduled request was sent: the server saw the target rate over the run.
    expected = RATE * DURATION
    assert loop.scheduled == expected
    assert all(outcome == "ok" for _, outcome, _ in results), {o for _, o, _ in results}
    received = len(server.arrivals)
    assert abs(received - expected) / expected <= RATE_TOLERANCE, f"server received {received}, expected {expected:.0f}"
    achieved = received / DURATION
    assert abs(achieved - RATE) / RATE <= RATE_TOLERANCE, f"achieved {achieved:.1f}/s of {RATE}/s"

    # Requests scheduled during the stall report the wait: latency >= time left in the stall.
    during = [(scheduled, latency) for scheduled, _, latency in results if stall_start <= scheduled < stall_end - 0.05]
    assert len(during) >= RATE * STALL_SECONDS * 0.9, f"only {len(during)} requests were scheduled in the stall"
    for scheduled, latency in during:
        assert latency >= (stall_end - scheduled) - 0.02, (
            f"a request scheduled {stall_end - scheduled:.2f} s before the stall ended reported {latency:.3f} s")
    assert max(latency for _, latency in during) >= 0.9 * STALL_SECONDS

    # Outside the stall the server is fast, so latencies there stay small (the stall is not smeared).
    before = [latency for scheduled, _, latency in results if scheduled < stall_start - 0.1]
    assert before and max(before) < FAST_LATENCY_BOUND_SECONDS, f"slowest request before the stall: {max(before)}"


def test_rate_change_and_pause_take_effect():
    arrivals = []
    loop = OpenLoop(lambda _label: "ok", 20.0, on_arrival=lambda _label: arrivals.append(time.monotonic()),
                    workers=2).start()
    try:
        poll_until(lambda: len(arrivals) >= 10, "10 arrivals at 20/s", 3)
        loop.set_rate(0)
        paused_at, paused_count = time.monotonic(), len(arrivals)
        poll_until(lambda: time.monotonic() - paused_at >= 0.6, "0.6 s of pause", 2, interval=0.05)
        assert len(arrivals) - paused_count <= 1, "the schedule kept going while paused"
        loop.set_rate(100.0)
        resumed_count = len(arrivals)
        poll_until(lambda: len(arrivals) >= resumed_count + 101, "100 arrivals at 100/s", 3)
    finally:
        loop.stop()
    first, last = arrivals[resumed_count], arrivals[resumed_count + 100]
    assert 0.9 <= last - first <= 1.2, f"100 arrivals at 100/s took {last - first:.2f} s"


def test_full_backlog_drops_arrivals_instead_of_queueing_without_bound():
    release = threading.Event()
    outcomes = []
    loop = OpenLoop(lambda _label: release.wait(5) and "ok", 200.0, duration=0.5, workers=2, max_backlog=10,
                    on_result=lambda label, outcome, latency, scheduled: outcomes.append((outcome, latency)))
    loop.start()
    try:
        assert loop.wait(5)
    finally:
        release.set()
        loop.stop()
    dropped = [latency for outcome, latency in outcomes if outcome == "dropped"]
    assert loop.scheduled == 100 and len(dropped) == 90 and loop.dropped == 90
    assert all(latency is None for latency in dropped)
    assert sum(1 for outcome, _ in outcomes if outcome == "ok") == 10


def test_stop_can_discard_the_queue_and_still_accounts_for_every_arrival():
    release = threading.Event()
    outcomes = []
    loop = OpenLoop(lambda _label: release.wait(5) and "ok", 100.0, duration=0.2, workers=2, max_backlog=50,
                    on_result=lambda label, outcome, latency, scheduled: outcomes.append(outcome))
    loop.start()
    try:
        assert loop.wait(5)
        poll_until(lambda: loop.backlog() == 20, "20 unfinished arrivals", 5)
    finally:
        # The two running jobs finish only after stop() has discarded the queue (it does so at once).
        threading.Timer(0.5, release.set).start()
        assert loop.stop(drain_timeout=5, discard_queued=True)
    assert loop.scheduled == 20 == len(outcomes)
    assert outcomes.count("ok") == 2 and outcomes.count("dropped") == 18
