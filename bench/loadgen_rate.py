"""Part 5, the load generator: does it keep the rate it is asked for, and what CPU does that take?

`python -m loadgen run --rate R --duration S` runs as its own process against
a shop with 4 workers, with the browse-only journey mix (the cheapest pages),
so the shop is not what limits the rate. Its /metrics is read every second:
the scheduled rate comes from `loadgen_intended_requests_total`, the
achieved rate from journeys finished, both over the steady part of the run
(the first seconds are skipped). CPU is the process's own user+system time
(from wait4), so time spent by the shop is not charged to it.
"""
import os
import signal
import subprocess
import sys
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from bench import goals
from bench.scratch import in_scratch
from bench.servers import PAYMENTS_WSGI, REPO, SHOP_WSGI, Server
from bench.stats import rounded
from processes.ports import free_port

MIX = "browse=1"
SKIP_SECONDS = 3


def read_counts(url):
    """(journeys scheduled, journeys finished by outcome) from the load generator's /metrics."""
    text = requests.get(url + "/metrics", timeout=2).text
    intended, outcomes = 0.0, {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "loadgen_intended_requests_total":
                intended = sample.value
            elif sample.name == "loadgen_requests_total":
                outcome = sample.labels["outcome"]
                outcomes[outcome] = outcomes.get(outcome, 0.0) + sample.value
    return intended, outcomes


def wait_sampling(process, timeout, sample):
    """Call sample() every second until the process exits; return its CPU seconds (from wait4)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            # wait4, not poll(): the exit status comes with the process's own CPU usage.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)
                return usage.ru_utime + usage.ru_stime
            if time.monotonic() > deadline:
                raise RuntimeError(f"The load generator did not stop within {timeout:.0f} s.")
            sample()
            time.sleep(1.0)  # the sampling period of the measurement
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        os.wait4(process.pid, 0)
        raise


def steady_window(readings):
    """The readings after the start-up seconds and before scheduling stopped (first, last)."""
    while len(readings) > 1 and readings[-1][1] == readings[-2][1]:
        readings = readings[:-1]  # the schedule is over; the rest is draining
    steady = [r for r in readings if r[0] - readings[0][0] >= SKIP_SECONDS]
    if len(steady) < 2:
        raise RuntimeError("The load generator gave too few readings of its /metrics to measure a rate.")
    return steady[0], steady[-1]


def one_rate(shop_url, rate, seconds, workdir):
    """Run the load generator at `rate` for `seconds`; return what it scheduled, finished and cost."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=REPO, SHOP_URL=shop_url, LOADGEN_PORT=str(port))
    command = [sys.executable, "-m", "loadgen", "run", "--rate", str(rate), "--duration", str(seconds),
               "--port", str(port), "--mix", MIX, "--quiet"]
    readings = []  # (monotonic time, scheduled, finished by outcome)

    def sample():
        try:
            readings.append((time.monotonic(), *read_counts(f"http://127.0.0.1:{port}")))
        except requests.RequestException:
            pass  # not listening yet, or already shutting down
    with open(os.path.join(workdir, f"loadgen-{rate}.log"), "wb") as log:
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        cpu = wait_sampling(process, seconds + 30, sample)
    (t0, scheduled0, done0), (t1, scheduled1, done1) = steady_window(readings)
    finished = {k: done1.get(k, 0) - done0.get(k, 0) for k in done1}
    journeys = sum(v for k, v in readings[-1][2].items() if k != "dropped")
    return {"target_per_second": rate, "scheduled_per_second": rounded((scheduled1 - scheduled0) / (t1 - t0), 1),
            "achieved_per_second": rounded(sum(v for k, v in finished.items() if k != "dropped") / (t1 - t0), 1),
            "failed_journeys": int(sum(v for k, v in finished.items() if k not in ("ok", "rejected_ok", "declined"))),
            "cpu_cores": rounded(cpu / seconds, 3), "cpu_us_per_journey": rounded(cpu / max(1, journeys) * 1e6, 0),
            "exit_code": process.returncode}


@in_scratch("bench-loadgen-")
def run(rates=(50, 200, 500), seconds=20, log=print, workdir=None):
    """Measure each rate in turn against one shop."""
    payments = Server("payments", PAYMENTS_WSGI, workdir, 1).start()
    try:
        with Server("shop", SHOP_WSGI, workdir, 4, env={"PAYMENTS_URL": payments.url}) as shop:
            results = []
            for rate in rates:
                results.append(one_rate(shop.url, rate, seconds, workdir))
                log(f"  target {rate}/s: achieved {results[-1]['achieved_per_second']}/s, "
                    f"{results[-1]['cpu_cores']} cores")
    finally:
        payments.stop()
    verdicts = {"keeps_every_rate": all(goals.keeps_rate(r["achieved_per_second"], r["target_per_second"])
                                        for r in results)}
    return {"rates": results, "goals": verdicts,
            "settings": {"seconds_per_rate": seconds, "mix": MIX, "shop_workers": 4,
                         "achieved_share_goal": goals.MIN_ACHIEVED_SHARE}}
