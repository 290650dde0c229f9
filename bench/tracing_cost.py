"""Part 8, tracing cost: our metrics, tracing and exemplars against auto-instrumentation, every request sampled.

The endpoint is a product page, `GET /api/products/1`: a server span, two named SQLite queries
and a call to payments (`GET /quotes` through requests), the whole path a trace is meant to
show. Payments runs as a real gunicorn server on a free loopback port, outside callgrind: only
the shop's instructions are counted. Three shops (bench/tracing_variants.py):

* none: no metrics, no tracing;
* ours: the shop as it runs, our metrics, our spans (server, both queries, the payments call,
  the recommendations), exemplars on every histogram observation;
* auto: prometheus_flask_exporter with opentelemetry-instrumentation-flask and
  opentelemetry-instrumentation-requests (a server span and a client span per request).

Both traced shops use the same TracerProvider setup, sampler ratio (1.0), span processor and an
exporter that drops the spans, so only the instrumentation differs. Each serves the endpoint
through Flask's test client under callgrind, as part 1 does (bench/instructions.py); the goal is
judged on the instructions each adds per request over none.
"""
import os
import subprocess
import sys
from importlib.metadata import version

from bench import goals, instructions
from bench.scratch import in_scratch
from bench.servers import PAYMENTS_WSGI, REPO, Server
from bench.tracing_variants import SAMPLE_RATIO

ENDPOINT = "/api/products/1"
WARM, REQUESTS = 50, 200  # callgrind counts runs of WARM and WARM + REQUESTS requests (as part 1)
PACKAGES = ("opentelemetry-sdk", "opentelemetry-instrumentation-flask", "opentelemetry-instrumentation-requests",
            "prometheus_flask_exporter")
VARIANTS = {name: f"bench.tracing_variants:{name}()" for name in ("none", "ours", "auto")}
CHILD_ENV = {"BENCH_NOT_NULL": "stock", "TRACING_SAMPLE_RATIO": str(SAMPLE_RATIO),
             "OTEL_EXPORTER_ZIPKIN_ENDPOINT": ""}


def spans_per_request(wsgi, workdir, env, count=20):
    """Spans one variant hands its exporter per request (a short run outside callgrind)."""
    run_dir = os.path.join(workdir, f"spans-{wsgi.split(':')[1][:-2]}")
    os.makedirs(run_dir)
    result = subprocess.run([sys.executable, "-m", instructions.CHILD, wsgi, ENDPOINT, str(count), run_dir],
                            capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, **env})
    last = result.stdout.strip().splitlines()[-1:] or [""]
    if result.returncode != 0 or not last[0].startswith("spans per request: "):
        raise RuntimeError(f"{wsgi} did not serve {ENDPOINT} (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return float(last[0].split(": ")[1])


def summarise(counted, spans):
    """Instructions per request of each variant, and what ours and auto add over none."""
    base = counted["none"]
    variants = {name: {"instructions_per_request": counted[name], "spans_per_request": spans.get(name, 0.0)}
                for name in VARIANTS}
    versus = {name: {"added_instructions_per_request": counted[name] - base,
                     "added_share": round((counted[name] - base) / base, 4)} for name in ("ours", "auto")}
    verdicts = {"ours_tracing_costs_no_more_than_auto": goals.tracing_costs_no_more_than_auto(
        versus["ours"]["added_instructions_per_request"], versus["auto"]["added_instructions_per_request"])}
    return {"variants": variants, "versus_none": versus, "goals": verdicts}


@in_scratch("bench-tracing-")
def run(log=print, workdir=None):
    """Start payments, count the spans and then the instructions of each variant, and summarise."""
    payments = Server("payments", PAYMENTS_WSGI, workdir, 1, env={"PAYMENTS_QUOTE_MEDIAN_SECONDS": "0"}).start()
    try:
        env = dict(CHILD_ENV, PAYMENTS_URL=payments.url)
        spans = {name: spans_per_request(wsgi, workdir, env) for name, wsgi in VARIANTS.items()}
        log("  spans per request: " + ", ".join(f"{name} {count:g}" for name, count in spans.items()))
        log("  instructions per request (callgrind, Flask test client in one process):")
        counted = instructions.per_request(VARIANTS, ENDPOINT, workdir, warm=WARM, requests=REQUESTS, log=log, env=env)
    finally:
        payments.stop()
    summary = summarise(counted, spans)
    summary["settings"] = {"endpoint": ENDPOINT, "sample_ratio": SAMPLE_RATIO, "span_processor": "SimpleSpanProcessor",
                           "exporter": "discards", "callgrind_requests": [WARM, WARM + REQUESTS],
                           "packages": {name: version(name) for name in PACKAGES}}
    return summary
