"""gunicorn settings shared by every service (bind address and workers come from `app.serve`).

gunicorn's master reads this module, and the master never serves a request: so the hooks import what
they need when they run (in the worker, or in the master when a worker dies), and the master holds
gunicorn and the standard library only. Importing Flask, OpenTelemetry and prometheus_client here
made every master ~12 MiB larger: 39 instead of 27 MiB RSS (bench/footprint.py, issue 16).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only: at run time gunicorn passes these in, we import nothing of it
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

# gthread, hardened so a few slow clients cannot hold every worker (see the module).
worker_class = "app.common.gunicorn_worker.SlowClientSafeWorker"
# Threads per worker; `app.serve` passes its --threads. They bound the connections a worker holds; the
# capacity gauge counts worker processes (one interpreter lock each), not threads.
threads = 4
# Seconds without a heartbeat before the master replaces a worker (with threads: its main loop is stuck).
timeout = 30
graceful_timeout = 10
# Our own JSON request lines replace gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Worker heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm"


def child_exit(server: Arbiter, worker: Worker) -> None:
    """A worker died: keep its counts, drop its live gauges, bound the file count.

    This runs in gunicorn's master, which replaces workers and handles signals
    only once it returns: the compaction lock lets it in ahead of new scrapes
    (it waits for the scrapes in flight only). An exception here would end the
    master's main loop, and with it the service: a failed compaction (a full
    disk, say) is logged instead.
    """
    from app.common.multiprocess_metrics import compact_dead_worker  # the first death pays for the import

    try:
        compact_dead_worker(worker.pid)
    except Exception:  # noqa: BLE001 - the master must outlive a failed compaction
        server.log.exception("Compacting the metric files of dead worker %s failed; they stay uncompacted.",
                             worker.pid)


def worker_exit(server: Arbiter, worker: Worker) -> None:
    """A worker stops: send the spans it still queues (its tracing providers flush), in the worker itself."""
    from app.common import tracing  # imported already: the worker's app uses it

    try:
        tracing.shutdown()
    except Exception:  # noqa: BLE001 - an unreachable trace backend must not keep a worker from exiting
        worker.log.exception("Flushing the worker's spans failed; they are lost.")


def post_worker_init(worker: Worker) -> None:
    """Render /metrics once in each new worker, so the first real scrape it serves is not the slow one.

    The first render in a process builds the caches (file layouts, label text)
    and costs about what the stock collector does (~20 ms for the shop); after
    that a render takes ~2 ms. Without this, every worker restart makes one
    slow scrape.
    """
    from app.common.multiprocess_metrics import render_metrics  # imported already: the worker's app uses it

    try:
        render_metrics()
        render_metrics(openmetrics=True)  # what Prometheus asks for: its headers and exemplar layouts too
    except Exception:  # noqa: BLE001 - a warm-up must never keep a worker from serving
        worker.log.exception("Warming up the /metrics render failed; the first scrape will do it.")
