"""Start one of our gunicorn services: `python -m app.serve shop|payments|inbox`.

The same command runs in `make local`, in the tests and in the containers. It
prepares what prometheus_client's multiprocess mode needs *before* gunicorn
imports anything (the directory set in the environment and wiped), then
replaces itself with gunicorn.
"""
import argparse
import os
import shutil
import sys
import tempfile

from app.common.multiprocess_metrics import wipe

# Threads per worker: enough that 2 x workers stalled clients leave threads for everyone else
# (`app.common.gunicorn_worker`); CPU-bound work still shares one core per worker.
DEFAULT_THREADS = 4
SERVICES = {
    # name: (WSGI app, port variable, default port, workers variable, default workers, default threads)
    # The shop keeps several workers: merging their metric files is what multiprocess mode teaches.
    "shop": ("app.shop.wsgi:app", "SHOP_PORT", 8000, "SHOP_WORKERS", 2, DEFAULT_THREADS),
    # Payments, a stand-in downstream whose answers are mostly sleeps (its own latency, its latency and hang
    # faults), takes as many requests at once as two workers of 4 threads did, in one worker: a second
    # worker cost ~40 MiB of the native stack's footprint (bench part 4, issue 16).
    "payments": ("app.payments.wsgi:app", "PAYMENTS_PORT", 8001, "PAYMENTS_WORKERS", 1, 2 * DEFAULT_THREADS),
    "inbox": ("app.inbox.wsgi:app", "INBOX_PORT", 8002, "INBOX_WORKERS", 1, DEFAULT_THREADS),
}


def build_command(service, host, port, workers, max_requests, threads=DEFAULT_THREADS):
    """The gunicorn command line for a service."""
    wsgi_app = SERVICES[service][0]
    command = [sys.executable, "-m", "gunicorn", "--config", "python:app.common.gunicorn_conf",
               "--bind", f"{host}:{port}", "--workers", str(workers), "--threads", str(threads),
               "--name", service]
    if max_requests:
        # Jitter spreads restarts so workers do not all recycle at once.
        command += ["--max-requests", str(max_requests), "--max-requests-jitter", str(max(1, max_requests // 10))]
    return command + [wsgi_app]


def metrics_directory(service, port, environ=os.environ):
    """PROMETHEUS_MULTIPROC_DIR if set, else a fresh private directory.

    mkdtemp: mode 0700 and a name no other user can guess or plant beforehand,
    where a fixed path in the shared temp dir could be a planted symlink.
    """
    return environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
        prefix=f"instrumented-shop-metrics-{service}-{port}-")


def main(argv=None):
    """Parse arguments, prepare the metrics directory and exec gunicorn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=sorted(SERVICES))
    parser.add_argument("--host", default=os.environ.get("BIND_HOST", "127.0.0.1"),
                        help="address to listen on (containers use 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: $<SERVICE>_PORT or the service default)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: $<SERVICE>_WORKERS)")
    parser.add_argument("--threads", type=int,
                        help="threads per worker (default: $SERVICE_THREADS, else 8 for payments, 4 for the others)")
    parser.add_argument("--max-requests", type=int, default=int(os.environ.get("MAX_REQUESTS", "0")),
                        help="recycle a worker after this many requests (0: never)")
    args = parser.parse_args(argv)
    _, port_var, default_port, workers_var, default_workers, default_threads = SERVICES[args.service]
    port = args.port or int(os.environ.get(port_var, default_port))
    workers = args.workers or int(os.environ.get(workers_var, default_workers))
    if args.threads is None:
        args.threads = int(os.environ.get("SERVICE_THREADS", default_threads))
    if workers < 1:
        parser.error(f"{workers_var} must be at least 1, not {workers}.")
    if args.threads < 1:
        parser.error(f"--threads (SERVICE_THREADS) must be at least 1, not {args.threads}.")

    metrics_dir = metrics_directory(args.service, port)
    wipe(metrics_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # The capacity gauge: how many requests can execute at once, one per worker process. A worker's
    # threads let more requests wait (on payments, for a slow client, for the interpreter lock), but its
    # Python code runs one thread at a time, so threads add no capacity for our own work.
    os.environ["SERVICE_CAPACITY"] = str(workers)
    command = build_command(args.service, args.host, port, workers, args.max_requests, args.threads)
    if not shutil.which(command[0]):
        sys.exit(f"Cannot run {command[0]}; is the virtualenv set up (make venv)?")
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
