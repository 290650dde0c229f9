"""Part 1, instrumentation cost: the same endpoint, the same gunicorn, with our metrics, none, or the exporter.

Three servers run side by side and take turns (the order rotates every
round), so a burst of noise from elsewhere on the machine hits every variant
alike. Per round and variant:

* throughput: wrk with more connections than workers for `seconds`;
* CPU per request: user+system time of the gunicorn workers (from /proc)
  over that run divided by the requests served; the least noisy number here,
  because time other processes steal is not charged to the workers;
* latency: wrk with one connection (requests one after another, no queueing).

The report gives medians over rounds of per-round ratios and differences.
Both goals are judged on instructions per request counted by callgrind
(bench/instructions.py), the one measurement that repeats on a shared
machine: a CPU-bound server's throughput is inversely proportional to the
work per request, so "loses at most 5%" means none's instructions / ours >=
0.95. The wrk and CPU-time ratios are shown beside it; on a shared two-core
machine they move from run to run by as much as the instrumentation costs.
"""

from bench import goals, instructions, procfs, wrk
from bench.scratch import in_scratch
from bench.servers import SHOP_WSGI, Server
from bench.stats import median, rounded, spread

ENDPOINT = "/api/products"  # one named SQLite query, no call to payments
VARIANTS = {"ours": SHOP_WSGI, "none": "bench.wsgi_none:app", "flask_exporter": "bench.wsgi_exporter:app"}


def measure(server, seconds, connections):
    """One turn of one variant: throughput and CPU per request, then single-connection latency."""
    workers = server.worker_pids()
    cpu_before = procfs.cpu_seconds(workers)
    loaded = wrk.run(server.url + ENDPOINT, seconds, connections)
    cpu = procfs.cpu_seconds(workers) - cpu_before
    single = wrk.run(server.url + ENDPOINT, max(2, seconds // 2), 1)
    for summary in (loaded, single):
        if summary["failed"]:
            raise RuntimeError(f"{server.name} answered {summary['errors']} errors to wrk; "
                               f"see {server.process.log_path}.")
    return {"rate": loaded["rate"], "cpu_us_per_request": cpu / max(1, loaded["requests"]) * 1e6,
            "latency_p50_us": single["latency_us"]["p50"], "latency_p99_us": single["latency_us"]["p99"]}


def summarise(rounds, instructions_per_request):
    """Medians per variant, and per-round ratios and differences against the uninstrumented shop."""
    per_variant = {}
    for name in VARIANTS:
        turns = [r[name] for r in rounds]
        per_variant[name] = {key: rounded(median(t[key] for t in turns), 1) for key in turns[0]}
        per_variant[name]["rate_spread"] = [rounded(v, 1) for v in spread(t["rate"] for t in turns)]
    comparison = {}
    for name in ("ours", "flask_exporter"):
        ratios = [r[name]["rate"] / r["none"]["rate"] for r in rounds]
        cpu_ratios = [r["none"]["cpu_us_per_request"] / r[name]["cpu_us_per_request"] for r in rounds]
        comparison[name] = {
            "throughput_ratio": rounded(median(ratios)),
            "throughput_ratio_spread": [rounded(v) for v in spread(ratios)],
            "throughput_ratio_from_cpu": rounded(median(cpu_ratios)),
            "throughput_ratio_from_cpu_spread": [rounded(v) for v in spread(cpu_ratios)],
            "added_cpu_us_per_request": rounded(median(r[name]["cpu_us_per_request"] - r["none"]["cpu_us_per_request"]
                                                       for r in rounds), 1),
            "added_latency_p50_us": rounded(median(r[name]["latency_p50_us"] - r["none"]["latency_p50_us"]
                                                   for r in rounds), 1),
        }
    base = instructions_per_request["none"]
    for name in ("ours", "flask_exporter"):
        per_variant[name]["instructions_per_request"] = instructions_per_request[name]
        comparison[name]["added_instructions_per_request"] = instructions_per_request[name] - base
        comparison[name]["throughput_ratio_from_instructions"] = rounded(base / instructions_per_request[name], 4)
    per_variant["none"]["instructions_per_request"] = base
    ours, exporter = comparison["ours"], comparison["flask_exporter"]
    verdicts = {
        "ours_loses_at_most_5_percent": goals.loses_at_most_allowed_throughput(
            ours["throughput_ratio_from_instructions"]),
        "ours_costs_no_more_than_exporter": goals.costs_no_more_than_exporter(
            ours["added_instructions_per_request"], exporter["added_instructions_per_request"]),
    }
    return {"variants": per_variant, "versus_none": comparison, "goals": verdicts}


@in_scratch("bench-overhead-")
def run(rounds=5, seconds=5, workers=2, connections=4, log=print, workdir=None):
    """Start the three variants, measure them in interleaved rounds, and summarise."""
    servers = {name: Server(f"shop-{name}", wsgi, workdir, workers) for name, wsgi in VARIANTS.items()}
    try:
        for server in servers.values():
            server.start()
            wrk.run(server.url + ENDPOINT, 2, connections)  # warm up: imports, SQLite page cache
        names = list(VARIANTS)
        results = []
        for index in range(rounds):
            order = names[index % len(names):] + names[:index % len(names)]
            results.append({name: measure(servers[name], seconds, connections) for name in order})
            log(f"  round {index + 1}/{rounds}: " + ", ".join(
                f"{name} {results[-1][name]['rate']:.0f}/s" for name in names))
    finally:
        for server in servers.values():
            server.stop()
    log("  instructions per request (callgrind, Flask test client in one process):")
    counted = instructions.per_request(VARIANTS, ENDPOINT, workdir, log=log)
    summary = summarise(results, counted)
    summary["settings"] = {"endpoint": ENDPOINT, "rounds": rounds, "seconds_per_turn": seconds,
                           "gunicorn_workers": workers, "wrk_connections": connections}
    summary["rounds"] = results
    return summary
