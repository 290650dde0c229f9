"""`make bench`: measure, print one table, write bench/results.json (and the table into bench/README.md).

Parts: overhead (instrumentation cost), scrape (/metrics cost), detection
(quiet baseline + drill), footprint (memory of the stack), loadgen (rates),
workers (the gthread worker model against gunicorn's sync worker), inbox_graphs (the inbox page of
50 notifications with their graphs), tracing (our metrics, tracing and exemplars against
auto-instrumentation).
`--parts` runs a subset; results of parts not run are kept from the last run,
and the README shows when each part was measured.
"""
import argparse
import datetime
import json
import os
import platform
import sys
import time
import traceback

from bench import detection, footprint, inbox_graphs, loadgen_rate, overhead, scrape, table, tracing_cost, worker_model

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results.json")
README = os.path.join(HERE, "README.md")
MARKERS = ("<!-- bench-table:start -->", "<!-- bench-table:end -->")
PARTS = ("overhead", "scrape", "detection", "footprint", "loadgen", "workers", "inbox_graphs", "tracing")


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default: all of {', '.join(PARTS)})")
    parser.add_argument("--rounds", type=int, default=12, help="interleaved rounds of the overhead part (default 12)")
    parser.add_argument("--seconds", type=int, default=4, help="seconds per wrk turn in the overhead part (default 4)")
    parser.add_argument("--requests", type=int, default=100_000,
                        help="requests before the scrape timing (default 100000)")
    parser.add_argument("--restarts", type=int, default=50, help="worker restarts in the scrape part (default 50)")
    parser.add_argument("--quiet-minutes", type=float, default=10.0,
                        help="minutes of quiet baseline before the drill (default 10; 0 skips it)")
    parser.add_argument("--scenarios", default="",
                        help="comma-separated drill scenarios (default: the whole catalog)")
    parser.add_argument("--footprint-seconds", type=int, default=60,
                        help="seconds of baseline traffic before sampling memory (default 60)")
    parser.add_argument("--loadgen-seconds", type=int, default=20, help="seconds per load generator rate (default 20)")
    parser.add_argument("--worker-rounds", type=int, default=6,
                        help="alternating rounds of the worker model part (default 6)")
    parser.add_argument("--inbox-page-loads", type=int, default=20,
                        help="warm loads of the inbox page in the inbox_graphs part (default 20)")
    parser.add_argument("--output", default=RESULTS,
                        help="where to write the JSON results (default bench/results.json)")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the table in bench/README.md")
    args = parser.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"Unknown part {', '.join(unknown)}; parts are {', '.join(PARTS)}.")
    return args


def machine():
    """What the numbers were measured on."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(memory_kib / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def runners(args):
    """Part name -> a function that measures it."""
    log = lambda text: print(text, flush=True)  # noqa: E731 - progress lines
    return {
        "overhead": lambda: overhead.run(rounds=args.rounds, seconds=args.seconds, log=log),
        "scrape": lambda: scrape.run(requests_wanted=args.requests, restarts_wanted=args.restarts, log=log),
        "detection": lambda: detection.run(quiet_minutes=args.quiet_minutes,
                                           scenarios=[s for s in args.scenarios.split(",") if s], log=log),
        "footprint": lambda: footprint.run(warmup_seconds=args.footprint_seconds, log=log),
        "loadgen": lambda: loadgen_rate.run(seconds=args.loadgen_seconds, log=log),
        "workers": lambda: worker_model.run(rounds=args.worker_rounds, seconds=args.seconds, log=log),
        "inbox_graphs": lambda: inbox_graphs.run(loads=args.inbox_page_loads, log=log),
        "tracing": lambda: tracing_cost.run(log=log),
    }


def load_previous(path):
    """The parts of the last results file (empty when there is none)."""
    try:
        with open(path) as source:
            return json.load(source).get("parts", {})
    except (OSError, ValueError):
        return {}


def write_json(path, data):
    """Write JSON atomically."""
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)


def update_readme(rows, results):
    """Replace the table between the markers in bench/README.md."""
    with open(README) as source:
        text = source.read()
    start, end = text.find(MARKERS[0]), text.find(MARKERS[1])
    if start < 0 or end < start:
        print(f"bench/README.md has no {MARKERS[0]} ... {MARKERS[1]} section; not updated.", file=sys.stderr)
        return
    m = results["machine"]
    when = "; ".join(f"{name} {part['measured_at']} (load {part.get('load_average_at_start', ['?'])[0]})"
                     for name, part in results["parts"].items())
    block = (f"{MARKERS[0]}\nMachine: {m['cpus']} x {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
             f"Python {m['python']}, shared with other work. Measured (UTC, 1-minute load average at the start): "
             f"{when}.\n\n{table.markdown(rows)}\n{MARKERS[1]}")
    with open(README, "w") as out:
        out.write(text[:start] + block + text[end + len(MARKERS[1]):])


def main(argv=None):
    """Run the chosen parts, then print and write the table."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    parts = load_previous(args.output)
    started = time.monotonic()
    now = lambda: datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")  # noqa: E731
    info = machine()
    for name, measure in runners(args).items():
        if name not in args.parts:
            continue
        print(f"== {name}", flush=True)
        part_started = time.monotonic()
        load = [round(x, 2) for x in os.getloadavg()]  # how busy the machine was when the part began
        try:
            result = measure()
        except Exception as error:  # one broken part must not hide the others' numbers
            traceback.print_exc()
            result = {"error": f"{type(error).__name__}: {error}"}
        result["measured_at"] = now()
        result["load_average_at_start"] = load
        result["minutes"] = round((time.monotonic() - part_started) / 60, 1)
        parts[name] = result
    results = {"generated_at": now(), "machine": info, "parts_run": args.parts,
               "minutes": round((time.monotonic() - started) / 60, 1),
               "parts": {name: parts[name] for name in PARTS if name in parts}}
    rows = table.rows(results["parts"])
    results["table"] = [dict(zip(table.HEADERS, row)) for row in rows]
    write_json(args.output, results)
    print()
    print(table.text(rows))
    print(f"\n{results['minutes']} minutes; results in {args.output}.")
    if not args.no_readme and set(PARTS) <= set(results["parts"]):
        update_readme(rows, results)
    failed = [name for name in args.parts if "error" in parts[name]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
