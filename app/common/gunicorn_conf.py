"""gunicorn settings shared by every service (bind address and workers come from `app.serve`)."""
from app.common.multiprocess_metrics import compact_dead_worker

worker_class = "sync"
# Long enough for a slow request, short enough that a stuck worker is replaced.
timeout = 30
graceful_timeout = 10
# Our own JSON request lines replace gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = "warning"
# Worker heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm"


def child_exit(_server, worker):
    """A worker died: keep its counts, drop its live gauges, bound the file count."""
    compact_dead_worker(worker.pid)
