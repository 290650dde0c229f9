"""`loadgen run`: baseline traffic, the scenario manager and the console server in one process, until stopped."""
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Self

from flask import Flask
from werkzeug.serving import make_server

from loadgen.console import create_app
from loadgen.state import LoadgenState
from loadgen.stats import progress_line

PROGRESS_EVERY_SECONDS = 1.0


class ConsoleServer:
    """The console's Flask app on a werkzeug server in a background thread (threaded: console polls never queue)."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per console poll
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port

    def start(self) -> Self:
        """Serve in a daemon thread."""
        self.thread = threading.Thread(target=self.server.serve_forever, name="loadgen-http", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def run(state: LoadgenState, host: str, port: int, duration: float | None = None, show_progress: bool = False,
        log: Callable[[str], object] | None = None) -> int:
    """Serve the console, run traffic until `duration` passes or SIGINT/SIGTERM; return an exit code."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    server = ConsoleServer(create_app(state), host, port).start()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    state.traffic.start()
    state.manager.run_ticker()
    log(f"loadgen: console and /metrics on http://{host}:{server.port}/, "
        f"{state.traffic.target_rate():g} journeys/s against {state.urls.shop}"
        + (f" for {duration:g} s" if duration else "") + ".")
    finished = False
    try:
        while not stopping.wait(PROGRESS_EVERY_SECONDS):
            if show_progress:
                line = progress_line(state.traffic.snapshot(), state.traffic.target_rate(),
                                     [a["name"] for a in state.manager.active()])
                sys.stderr.write("\r" + line[:200].ljust(120))
                sys.stderr.flush()
            if duration is not None and state.traffic.wait(0):
                finished = True
                break
    finally:
        if show_progress:
            sys.stderr.write("\n")
        # Scenarios this process started end with it (the services would expire them anyway).
        for active in state.manager.active():
            try:
                state.manager.stop(active["name"])
            except Exception as error:  # report and go on stopping the rest
                log(f"loadgen: could not stop {active['name']}: {error}")
        state.manager.close()
        # A bounded run finishes its schedule; a stopped one only lets running journeys end.
        drained = state.traffic.stop(drain_timeout=15.0 if finished else 5.0, discard_queued=not finished)
        server.stop()
    snapshot = state.traffic.snapshot()
    elapsed = time.monotonic() - state.traffic.stats.started_at
    log(f"loadgen: {snapshot['finished_total']} journeys in {elapsed:.0f} s, {snapshot['errors_total']} errors, "
        f"outcomes {dict(sorted(snapshot['outcomes'].items()))}" + ("" if drained else "; some were still running"))
    return 0
