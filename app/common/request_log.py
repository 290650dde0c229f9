"""One JSON log line per request, tied to the response by a request id.

The id comes from a well-formed incoming `X-Request-ID` or is generated, is
returned in the `X-Request-ID` response header, and is repeated on every error
line logged while handling the request, so a log line and a metric tell the
same story.
"""
import json
import logging
import os
import re
import sys
import time
import uuid
from typing import TextIO

from flask import Flask, Response, current_app, g, has_request_context, request

from app.common import tracing
from app.common.http_metrics import route_label

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class JsonFormatter(logging.Formatter):
    """Format log records as single-line JSON objects."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": os.getpid(),
            "message": record.getMessage(),
        }
        if has_request_context() and "request_id" in g:
            line["request_id"] = g.request_id
        line.update(tracing.current_ids())  # trace_id and span_id: from a log line to its trace
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class StdoutHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stdout is at the time (test capture included)."""

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(service: str) -> logging.Logger:
    """Send the service's logs to stdout as JSON lines."""
    logger = logging.getLogger(service)
    if not logger.handlers:
        handler = StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def json_logger(app: Flask | None = None) -> logging.Logger:
    """The service's JSON logger (put in `app.extensions["json_logger"]` by `init_service`)."""
    return (current_app if app is None else app).extensions["json_logger"]


def current_request_id() -> str:
    """The id of the request being handled (empty outside a request)."""
    return g.get("request_id", "") if has_request_context() else ""


class RequestLog:
    """Assigns request ids and writes the per-request JSON line."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def init_app(self, app: Flask) -> None:
        """Register the hooks on a Flask app (before the metrics hooks, so ids exist)."""
        app.before_request(self._assign_id)
        app.after_request(self._log)

    def _assign_id(self) -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.log_started = time.perf_counter()

    def _log(self, response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        started = g.get("log_started", time.perf_counter())
        self.logger.info("request", extra={"fields": {
            "method": request.method,
            "path": request.path,
            "route": route_label(),
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }})
        return response
