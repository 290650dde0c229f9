"""`loadgen run`: baseline traffic, the scenario manager and the console server in one process, until stopped."""
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Self

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from app.common import tracing
from loadgen.config import CONSOLE_MAX_THREADS, CONSOLE_SOCKET_TIMEOUT_SECONDS
from loadgen.console import create_app
from loadgen.state import LoadgenState
from loadgen.stats import progress_line

PROGRESS_EVERY_SECONDS = 1.0


class BoundedThreadingServer(BaseWSGIServer):
    """werkzeug's server with one thread per connection, but at most `max_threads`, and socket timeouts.

    werkzeug's own threaded server starts a thread for every connection it
    accepts, forever: 300 idle connections made 300 threads. Here a connection
    over the limit is answered 503 at once, and a connection that sends nothing
    for `timeout` seconds is closed, which frees its thread.
    """

    multithread = True  # tells the WSGI app, and makes werkzeug speak HTTP/1.1 (keep-alive) as threaded does
    _BUSY_BODY = b'{"error": "busy", "message": "The console is serving too many connections; try again shortly."}'
    BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))

    def __init__(self, host: str, port: int, app: Flask, max_threads: int, timeout: float) -> None:
        # StreamRequestHandler.setup() puts `timeout` on each accepted socket; a subclass, not werkzeug's class.
        handler = type("TimeoutRequestHandler", (WSGIRequestHandler,), {"timeout": timeout})
        super().__init__(host, port, app, handler=handler)
        self.slots = threading.BoundedSemaphore(max_threads)

    def process_request(self, request, client_address) -> None:
        """Serve the connection in a thread if one is free, else answer 503 and close it."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1)
                request.sendall(self.BUSY)
            self.shutdown_request(request)
            return
        threading.Thread(target=self._serve, args=(request, client_address), name="loadgen-http-conn",
                         daemon=True).start()

    def _serve(self, request, client_address) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - socketserver's own policy: report, close, go on serving
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self.slots.release()


class ConsoleServer:
    """The console's Flask app on a bounded threading server in a background thread (console polls never queue)."""

    def __init__(self, app: Flask, host: str, port: int, max_threads: int = CONSOLE_MAX_THREADS,
                 timeout: float = CONSOLE_SOCKET_TIMEOUT_SECONDS) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per console poll
        self.server = BoundedThreadingServer(host, port, app, max_threads, timeout)
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
    """Serve the console, run traffic until `duration` passes or SIGINT/SIGTERM; return an exit code.

    On the way out every journey's span has been sent, the last ones included.
    """
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
        # The last journeys' spans wait in the batch processor (up to 5 s): send them before the process ends.
        tracing.shutdown()
    snapshot = state.traffic.snapshot()
    elapsed = time.monotonic() - state.traffic.stats.started_at
    log(f"loadgen: {snapshot['finished_total']} journeys in {elapsed:.0f} s, {snapshot['errors_total']} errors, "
        f"outcomes {dict(sorted(snapshot['outcomes'].items()))}" + ("" if drained else "; some were still running"))
    return 0
