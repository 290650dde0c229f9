"""Start a WSGI app under gunicorn exactly as `python -m app.serve shop` would, on a free port.

Every variant of the benchmark goes through the same command line and the
same gunicorn config (app/common/gunicorn_conf.py); only the WSGI app differs.
"""
import os
import signal

import requests

from app.common.multiprocess_metrics import wipe
from app.serve import SERVICES, build_command
from bench import procfs
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHOP_WSGI = SERVICES["shop"][0]
PAYMENTS_WSGI = SERVICES["payments"][0]


class Server:
    """One gunicorn master and its workers, stopped by process group."""

    def __init__(self, name, wsgi, workdir, workers=2, env=None, extra_args=()):
        self.name, self.wsgi, self.workers = name, wsgi, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = os.path.join(workdir, f"metrics-{name}")
        data_dir = os.path.join(workdir, f"data-{name}")
        self.env = dict(os.environ)
        self.env.update({"PYTHONPATH": REPO, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
                         "SERVICE_CAPACITY": str(workers), "SHOP_DATA_DIR": data_dir,
                         "PAYMENTS_DATA_DIR": data_dir, "FAULT_TOKEN": "bench-token"})
        self.env.update(env or {})
        # extra_args (e.g. --worker-class sync) go after the config file's settings, so they win.
        command = build_command("shop", "127.0.0.1", self.port, workers, 0)[:-1] + list(extra_args) + [wsgi]
        command[command.index("--name") + 1] = name
        self.process = ManagedProcess(name, command, self.env, os.path.join(workdir, f"{name}.log"), cwd=REPO)

    def start(self, timeout=60):
        """Wipe the metrics directory (as app.serve does), start, and wait until every worker is up."""
        wipe(self.metrics_dir)
        self.process.start()
        try:
            poll_until(lambda: self.process.running() and requests.get(self.url + "/healthz", timeout=2).ok
                       and len(self.worker_pids()) == self.workers,
                       f"{self.name} ({self.wsgi}) to answer /healthz with {self.workers} workers", timeout)
        except AssertionError:
            self.stop()
            raise AssertionError(f"{self.name} did not start:\n{self.process.log_tail()}") from None
        return self

    @property
    def pid(self):
        """The gunicorn master's pid."""
        return self.process.pid

    def worker_pids(self):
        """The master's current worker processes."""
        return procfs.children(self.pid) if self.process.running() else []

    def reload_workers(self, timeout=60):
        """SIGHUP the master (every worker is replaced) and wait until only new workers remain."""
        old = set(self.worker_pids())
        os.kill(self.pid, signal.SIGHUP)

        def replaced():
            current = set(self.worker_pids())
            return len(current) == self.workers and not current & old and \
                requests.get(self.url + "/healthz", timeout=2).ok
        poll_until(replaced, f"{self.name}'s {len(old)} workers to be replaced after SIGHUP", timeout)
        return len(old)

    def stop(self):
        """Stop the master and its workers."""
        self.process.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()
        return False

