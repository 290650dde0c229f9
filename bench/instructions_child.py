"""Serve `count` requests to one bench variant through Flask's test client (run under callgrind).

Usage: python -m bench.instructions_child VARIANT ENDPOINT COUNT SCRATCH_DIR
The variants are those of bench/overhead.py; each gets its own data and
multiprocess directories below SCRATCH_DIR, set before anything imports
prometheus_client (as app.serve does).
"""
import importlib
import os
import sys


def main(variant, endpoint, count, scratch):
    metrics_dir = os.path.join(scratch, "metrics")
    os.makedirs(metrics_dir, exist_ok=True)
    os.environ.update(PROMETHEUS_MULTIPROC_DIR=metrics_dir, SHOP_DATA_DIR=os.path.join(scratch, "data"),
                      FAULT_TOKEN="bench-token", SERVICE_CAPACITY="1")
    from bench.overhead import VARIANTS  # after the environment: it imports prometheus_client
    module, attribute = VARIANTS[variant].split(":")
    client = getattr(importlib.import_module(module), attribute).test_client()
    for _ in range(count):
        response = client.get(endpoint)
        if response.status_code != 200:
            raise SystemExit(f"{variant} answered {response.status_code} to {endpoint}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
