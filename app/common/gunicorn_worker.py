"""The gunicorn worker every service runs: gthread, hardened against slow clients.

A `sync` worker serves one connection at a time and reads it with no timeout,
so one client that sends half a request holds the whole worker until gunicorn
kills it (30 s). This worker is gunicorn's `gthread` with two changes:

- Each worker accepts at most `threads` connections at once. A worker whose
  threads are all held (by slow clients or slow requests) stops accepting, and
  new connections go to a worker with a free thread instead of queueing behind
  the slow ones inside a full worker. So `workers x threads` is the most
  connections held. (The capacity gauge counts workers: a worker's threads
  wait in parallel, but its Python code runs one thread at a time.)
- A connection that stalls while sending its request (or reading the answer)
  is closed after `CONNECTION_TIMEOUT_SECONDS` without data, so slow clients
  give their threads back. gthread already hands a connection that sends
  nothing at all back to its poller after 5 s.

And one for the clients: the errors gunicorn answers itself, before the app
sees a request (a request line over `limit_request_line`: 414; too many or too
large headers: 431; a malformed request: 400), are JSON like every other
error of our services (`{"error", "message", "request_id"}`), not gunicorn's
HTML page. gunicorn has no setting for that page; its worker calls
`gunicorn.util.write_error`, which this worker replaces in its own process.
"""
from __future__ import annotations

import json
import logging
import os
import re
import uuid

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

# Seconds a socket operation may wait for the client: generous for a real
# client on a slow link, short enough that slow clients cannot pile up.
CONNECTION_TIMEOUT_SECONDS = float(os.environ.get("CONNECTION_TIMEOUT_SECONDS", "10"))


class TimeoutConnection(TConn):
    """A gthread connection whose socket operations time out instead of blocking forever."""

    def init(self) -> None:
        """Set up the connection (gunicorn makes the socket blocking, without a timeout), then bound it."""
        super().init()
        # gthread calls init() each time it picks the connection up, after making the socket
        # blocking; a timeout turns "blocking forever" into "blocking at most this long".
        self.sock.settimeout(CONNECTION_TIMEOUT_SECONDS)


class QuietTimeouts(logging.Filter):
    """Log a slow client cut off by the timeout as one warning line, not an error with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TimeoutError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"Closed a connection idle for {CONNECTION_TIMEOUT_SECONDS:g} s (slow or stalled client)."
            record.args = ()
            record.exc_info = record.exc_text = None
        return True


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's answer, as our services' JSON error (same status, reason and message)."""
    request_id = uuid.uuid4().hex
    code = re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "bad_request"
    message = mesg if mesg.endswith(".") else f"{mesg}."
    body = json.dumps({"error": code, "message": f"{reason}: {message}", "request_id": request_id}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"X-Request-ID: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


class SlowClientSafeWorker(ThreadWorker):
    """gthread with connections bounded by threads and a timeout on every socket operation."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A connection beyond the free threads would wait inside this worker while another worker
        # may be idle: stop accepting instead, and let the kernel hand it to a worker with a thread.
        self.worker_connections = self.cfg.threads
        self.max_keepalived = 0

    def init_process(self) -> None:
        """Install the log filter and JSON errors, then start the thread pool and the loop (never returns)."""
        self.log.error_log.addFilter(QuietTimeouts())
        util.write_error = write_json_error  # read at call time by gunicorn.workers.base.Worker.handle_error
        super().init_process()

    def accept(self, listener) -> None:
        """Accept a connection as gthread does, wrapped in a TimeoutConnection."""
        try:
            client_sock, client_addr = listener.accept()
        except BlockingIOError:
            return  # another worker took it
        except ConnectionAbortedError:
            return
        self.nr_conns += 1
        client_sock.setblocking(True)
        self.enqueue_req(TimeoutConnection(self.cfg, client_sock, client_addr, listener.getsockname()))
