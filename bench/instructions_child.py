"""Serve `count` requests to one bench variant through Flask's test client (run under callgrind).

Usage: python -m bench.instructions_child WSGI ENDPOINT COUNT SCRATCH_DIR
WSGI is a variant's app, "module:app" (bench/overhead.py's) or "module:factory()"
(bench/tracing_cost.py's, which builds its app with arguments). Each run gets its own
data and multiprocess directories below SCRATCH_DIR, set before anything imports
prometheus_client (as app.serve does). When the app carries a span-counting exporter
(`app.extensions["bench_exporter"]`), the spans it was handed per request are printed last.
With BENCH_NOT_NULL=FIELD in the environment, an answer whose JSON has FIELD null fails the run
(the tracing part's product page: stock is null when the call to payments failed).
"""
import importlib
import os
import sys


def load(wsgi):
    """The Flask app a "module:app" or "module:factory()" names."""
    module, attribute = wsgi.split(":")
    if attribute.endswith("()"):
        return getattr(importlib.import_module(module), attribute[:-2])()
    return getattr(importlib.import_module(module), attribute)


def main(wsgi, endpoint, count, scratch):
    metrics_dir = os.path.join(scratch, "metrics")
    os.makedirs(metrics_dir, exist_ok=True)
    os.environ.update(PROMETHEUS_MULTIPROC_DIR=metrics_dir, SHOP_DATA_DIR=os.path.join(scratch, "data"),
                      FAULT_TOKEN="bench-token", SERVICE_CAPACITY="1")
    app = load(wsgi)  # after the environment: the apps import prometheus_client
    client = app.test_client()
    required = os.environ.get("BENCH_NOT_NULL")
    for _ in range(count):
        response = client.get(endpoint)
        if response.status_code != 200:
            raise SystemExit(f"{wsgi} answered {response.status_code} to {endpoint}")
        if required and response.get_json().get(required) is None:
            raise SystemExit(f"{wsgi} answered {endpoint} with {required} null: {response.get_data(as_text=True)}")
    exporter = app.extensions.get("bench_exporter")
    if exporter is not None:
        print(f"spans per request: {exporter.spans / count:g}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
