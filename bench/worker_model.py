"""Part 6, the worker model's cost: gthread (what every service runs) against gunicorn's sync worker.

Every service runs app/common/gunicorn_worker.py (gthread, connections bounded
by threads, a socket timeout) so that a few slow clients cannot stop it; gunicorn's
default `sync` worker serves one connection per process and reads it with no
timeout. This part prices the change on the real shop: two servers with the
same workers take turns (the order alternates every round), each turn measuring

* throughput with wrk at 4 connections, and the workers' CPU per request (/proc);
* latency (p50) with one connection;

then each server with 2 x workers half-sent requests held open: how long
`/healthz` takes to answer (at most PROBE_TIMEOUT_SECONDS is waited). The goal,
from the trust issue: with those slow connections open, /healthz answers within
1 s (gthread). The sync worker's line shows what the change bought.
"""
import socket
import time
from urllib.parse import urlsplit

import requests

from bench import goals, wrk
from bench.overhead import measure  # one turn: throughput, CPU per request, latency
from bench.scratch import in_scratch
from bench.servers import SHOP_WSGI, Server
from bench.stats import median, rounded, spread

ENDPOINT = "/api/products"
# gunicorn swaps a sync worker with more than one thread for gthread: the contrast needs --threads 1.
MODELS = {"gthread": (), "sync": ("--worker-class", "sync", "--threads", "1")}
PROBE_TIMEOUT_SECONDS = 5.0


def healthz_seconds_under_slow_clients(server, slow_connections):
    """Seconds /healthz takes while `slow_connections` half-sent requests are held open (None: no answer)."""
    address = urlsplit(server.url)
    held = []
    try:
        for _ in range(slow_connections):
            sock = socket.create_connection((address.hostname, address.port), timeout=5)
            sock.sendall(b"GET " + ENDPOINT.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            held.append(sock)
        started = time.monotonic()
        try:
            requests.get(server.url + "/healthz", timeout=PROBE_TIMEOUT_SECONDS).raise_for_status()
        except requests.RequestException:
            return None
        return round(time.monotonic() - started, 3)
    finally:
        for sock in held:
            sock.close()


def summarise(rounds, probes):
    """Medians per model, gthread against sync per round, and the verdict."""
    per_model = {}
    for name in MODELS:
        turns = [r[name] for r in rounds]
        per_model[name] = {key: rounded(median(t[key] for t in turns), 1) for key in turns[0]}
        per_model[name]["healthz_seconds_under_slow_clients"] = probes[name]
    ratios = [r["gthread"]["rate"] / r["sync"]["rate"] for r in rounds]
    cpu_ratios = [r["sync"]["cpu_us_per_request"] / r["gthread"]["cpu_us_per_request"] for r in rounds]
    comparison = {
        "throughput_ratio": rounded(median(ratios)),
        "throughput_ratio_spread": [rounded(v) for v in spread(ratios)],
        "throughput_ratio_from_cpu": rounded(median(cpu_ratios)),
        "throughput_ratio_from_cpu_spread": [rounded(v) for v in spread(cpu_ratios)],
        "added_cpu_us_per_request": rounded(median(r["gthread"]["cpu_us_per_request"] - r["sync"]["cpu_us_per_request"]
                                                   for r in rounds), 1),
        "added_latency_p50_us": rounded(median(r["gthread"]["latency_p50_us"] - r["sync"]["latency_p50_us"]
                                               for r in rounds), 1),
    }
    verdicts = {"healthz_within_1_s_under_slow_clients": goals.answers_under_slow_clients(probes["gthread"])}
    return {"models": per_model, "gthread_versus_sync": comparison, "goals": verdicts}


@in_scratch("bench-workers-")
def run(rounds=6, seconds=4, workers=2, connections=4, log=print, workdir=None):
    """Start the shop with each worker model, measure in alternating rounds, then probe under slow clients."""
    servers = {name: Server(f"shop-{name}", SHOP_WSGI, workdir, workers, extra_args=args)
               for name, args in MODELS.items()}
    probes = {}
    try:
        for server in servers.values():
            server.start()
            wrk.run(server.url + ENDPOINT, 2, connections)  # warm up
        names = list(MODELS)
        results = []
        for index in range(rounds):
            order = names if index % 2 == 0 else names[::-1]
            results.append({name: measure(servers[name], seconds, connections) for name in order})
            log(f"  round {index + 1}/{rounds}: " + ", ".join(
                f"{name} {results[-1][name]['rate']:.0f}/s" for name in names))
        for name, server in servers.items():
            probes[name] = healthz_seconds_under_slow_clients(server, 2 * workers)
            log(f"  {name}: /healthz with {2 * workers} half-sent requests open: "
                + (f"{probes[name]} s" if probes[name] is not None else f"no answer in {PROBE_TIMEOUT_SECONDS:g} s"))
    finally:
        for server in servers.values():
            server.stop()
    summary = summarise(results, probes)
    summary["settings"] = {"endpoint": ENDPOINT, "rounds": rounds, "seconds_per_turn": seconds,
                           "gunicorn_workers": workers, "wrk_connections": connections,
                           "slow_connections": 2 * workers, "probe_timeout_seconds": PROBE_TIMEOUT_SECONDS}
    summary["rounds"] = results
    return summary
