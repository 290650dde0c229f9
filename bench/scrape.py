"""Part 2, scrape cost: how long the shop's /metrics takes with 4 workers, after 100k requests
and while workers are replaced again and again (each SIGHUP to the gunicorn master replaces all 4).

A scrape merges every worker's files, so its cost grows with the number of
series and of files; dead workers' files are folded into archives
(app/common/multiprocess_metrics.py), which is what keeps it flat here.
Scrapes are timed from the client while no other traffic runs and every
worker is idle (`settle`): the time Prometheus would record as
scrape_duration_seconds on an idle machine. Without that wait the first scrapes
of the fresh row met workers still starting (each imports the app for ~1 s of
CPU, 4 at once on 2 cores: 90-315 ms seen), a row's p99 set by start-up
contention that no scrape of a running service pays. What a worker's first
scrapes do pay stays in: compiling the layouts of files changed since it last
rendered (app/common/multiprocess_render.py), and in a fresh worker the series
its own first requests create (~50 ms each on a busy machine). They ask
for what Prometheus 3 asks for (OpenMetrics first), and every request of the
traffic is sampled (a `traceparent` with the sampled flag), so every bucket of
every series carries an exemplar: the render's worst case (app/common/exemplar_files.py).
"""
import glob
import os
import time

import requests

from app.common import exemplar_files
from bench import goals, procfs, wrk
from bench.scratch import in_scratch
from bench.servers import PAYMENTS_WSGI, Server
from bench.stats import median, percentile, rounded
from processes.waiting import poll_until

# Every route of the shop once per cycle (so the exposition has the series real traffic makes),
# weighted towards cheap requests so 100k of them take minutes, not a quarter of an hour.
TRAFFIC = ([("GET", "/api/products")] * 8 + [("GET", "/"), ("POST", "/api/carts"), ("GET", "/no/such/page"),
           ("GET", "/api/orders/1"), ("GET", "/api/orders?since=0"), ("GET", "/api/products/999"),
           ("GET", "/api/carts/0123456789abcdef0123456789abcdef"), ("GET", "/api/products/1"),
           ("GET", "/products/2"), ("DELETE", "/api/products"), ("GET", "/healthz")])


# Prometheus 3's Accept header with its default scrape_protocols (prometheus/prometheus.yml writes them out).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                     "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
                     "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
SAMPLED = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


def request_total(url):
    """The shop's own count of requests served (every route), from one scrape."""
    text = requests.get(url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("shop_http_request_duration_seconds_count{"))


def time_scrapes(url, count):
    """Scrape `count` times one after another; return durations (s), series count and body size."""
    session = requests.Session()
    durations, body = [], b""
    for _ in range(count):
        started = time.perf_counter()
        response = session.get(url + "/metrics", headers={"Accept": PROMETHEUS_ACCEPT}, timeout=10)
        body = response.content
        durations.append(time.perf_counter() - started)
        response.raise_for_status()
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return durations, series, len(body)


def settle(server, timeout=60, window_seconds=0.5, busy_seconds=0.02):
    """Wait until the master and its workers use (almost) no CPU: every worker has started and warmed up."""
    def idle():
        pids = [server.pid, *server.worker_pids()]
        used = procfs.cpu_seconds(pids)
        time.sleep(window_seconds)  # the window the CPU time is measured over
        return procfs.cpu_seconds(pids) - used <= busy_seconds
    poll_until(idle, f"{server.name}'s workers to be idle (started) before timing scrapes", timeout)


def snapshot(server, label, restarts, count):
    """One row of the report: scrape time percentiles plus what the exposition and the directory hold."""
    settle(server)
    durations, series, size = time_scrapes(server.url, count)
    return {"when": label, "worker_restarts": restarts, "requests_served": int(request_total(server.url)),
            "scrapes": count, "median_ms": rounded(median(durations) * 1000, 2),
            "p99_ms": rounded(percentile(durations, 0.99) * 1000, 2), "series": series, "bytes": size,
            "files": len(glob.glob(os.path.join(server.metrics_dir, "*.db"))),
            "exemplar_files": len(exemplar_files.files(server.metrics_dir))}


def drive(server, requests_wanted, log):
    """Send the traffic mix until the shop has counted `requests_wanted` requests."""
    while (served := request_total(server.url)) < requests_wanted:
        summary = wrk.run(server.url, 10, 8, paths=TRAFFIC, headers=SAMPLED)
        log(f"  {int(served + summary['requests'])} requests served ({summary['rate']:.0f}/s)")


@in_scratch("bench-scrape-")
def run(requests_wanted=100_000, restarts_wanted=50, scrapes=200, workers=4, log=print, workdir=None):
    """Measure scrape time after the traffic, then after every batch of worker restarts."""
    payments = Server("payments", PAYMENTS_WSGI, workdir, 2).start()
    try:
        shop = Server("shop", "app.shop.wsgi:app", workdir, workers,
                      env={"PAYMENTS_URL": payments.url}).start()
        try:
            rows = [snapshot(shop, "fresh", 0, scrapes)]
            drive(shop, requests_wanted, log)
            rows.append(snapshot(shop, f"after {requests_wanted // 1000}k requests", 0, scrapes))
            restarts = 0
            checkpoints = {restarts_wanted // 3, 2 * restarts_wanted // 3}
            while restarts < restarts_wanted:
                restarts += shop.reload_workers()
                wrk.run(shop.url, 1, 4, paths=TRAFFIC, headers=SAMPLED)  # the new workers write their own files
                if restarts >= min(checkpoints | {restarts_wanted}):
                    checkpoints = {c for c in checkpoints if c > restarts}
                    rows.append(snapshot(shop, f"after {restarts} worker restarts", restarts, scrapes))
                    log(f"  {restarts} worker restarts: median {rows[-1]['median_ms']} ms, {rows[-1]['files']} files")
        finally:
            shop.stop()
    finally:
        payments.stop()
    verdicts = {"at_most_25_ms": all(goals.scrape_within_goal(row) for row in rows[1:]),
                "not_growing_with_restarts": goals.not_growing(rows[2:])}
    return {"rows": rows, "goals": verdicts,
            "settings": {"gunicorn_workers": workers, "requests": requests_wanted,
                         "worker_restarts": restarts_wanted, "scrapes_per_row": scrapes}}
