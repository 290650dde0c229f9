"""Wire the shared parts into a Flask service: logs, errors, metrics, health, faults."""
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from flask import Flask, Response, jsonify, request

from app.common.errors import MIN_FREE_BYTES, data_dir_is_full, register_error_handlers
from app.common.faults import FaultStore, Knob, admin_blueprint
from app.common.http_metrics import RequestInstrumentation
from app.common.multiprocess_metrics import render_metrics
from app.common.parsing import AsciiIntConverter
from app.common.request_guard import guard_service
from app.common.request_log import RequestLog, configure_logging
from app.common.request_spans import RequestSpans
from app.common.tracing import Tracing

OPENMETRICS_EOF = b"# EOF\n"


def data_dir(app: Flask, variable: str) -> str:
    """The service's data directory from config or environment, created if missing."""
    path = app.config.get("DATA_DIR") or os.environ.get(variable) or os.path.join(os.getcwd(), "var", app.name)
    os.makedirs(path, exist_ok=True)
    app.extensions["data_dir"] = path  # /healthz watches its free space
    return path


def wants_openmetrics(accept: str | None) -> bool:
    """Whether a scraper's Accept header asks for OpenMetrics (what carries exemplars), as prometheus_client decides.

    prometheus_client's `choose_encoder` picks OpenMetrics when any listed type is
    `application/openmetrics-text`, whatever the q-values; so do we, except that `q=0` (refused) is respected.
    """
    for accepted in (accept or "").split(","):
        media_type, *parameters = (part.strip() for part in accepted.split(";"))
        if media_type.lower() == "application/openmetrics-text" and _quality(parameters) > 0:
            return True
    return False


def _quality(parameters: list[str]) -> float:
    """The `q` of a media range's parameters (1 when absent or unreadable)."""
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 1.0
    return 1.0


def readiness_problem(app: Flask) -> str | None:
    """Why the service cannot do its work right now (a sentence), or None when it can.

    Checks what every write needs: free space in the data directory, and a
    database that opens and answers.
    """
    if data_dir_is_full(app):
        return f"The data directory has less than {MIN_FREE_BYTES // 1024} KiB free; writes would fail."
    database = app.config.get("DATABASE")
    if database is not None:
        try:
            connection = sqlite3.connect(  # mode=rw: never create a missing database
                Path(database).resolve().as_uri() + "?mode=rw", uri=True, timeout=1.0)
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                connection.close()
        except sqlite3.Error as error:
            return f"The database does not answer ({error})."
    return None


def init_service(app: Flask, name: str, metrics: ModuleType, knobs: Sequence[Knob] = (),
                 fault_store: FaultStore | None = None) -> logging.Logger:
    """Register request logs, error pages, instrumentation, /metrics, /healthz and /admin.

    `metrics` is the service's metrics module: its REQUEST_DURATION and
    REQUESTS_IN_PROGRESS, and if it has them RESIDENT_MEMORY, REQUEST_CAPACITY
    and `refresh_at_scrape(app)` (updates gauges before the render) and `render_at_scrape(app)` (exposition
    bytes the scraping worker adds: series that must not live in the multiprocess files).
    """
    # Before any blueprint adds a rule: `<int:...>` in every URL takes ASCII digits only.
    app.url_map.converters["int"] = AsciiIntConverter
    logger = configure_logging(name)
    app.extensions["json_logger"] = logger
    RequestLog(logger).init_app(app)
    # Between the log and the metrics hooks: the request's log line and exemplars both see its span.
    RequestSpans(Tracing(name, exporter=app.config.get("TRACING_EXPORTER"))).init_app(app)
    RequestInstrumentation(metrics.REQUEST_DURATION, metrics.REQUESTS_IN_PROGRESS,
                           getattr(metrics, "RESIDENT_MEMORY", None)).init_app(app)
    register_error_handlers(app, logger)
    guard_service(app)
    capacity = getattr(metrics, "REQUEST_CAPACITY", None)
    if capacity is not None:
        capacity.set(int(os.environ.get("SERVICE_CAPACITY", "1")))

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        refresh = getattr(metrics, "refresh_at_scrape", None)
        if refresh is not None:
            refresh(app)
        openmetrics = wants_openmetrics(request.headers.get("Accept"))
        body, content_type = render_metrics(openmetrics=openmetrics)
        render_extra = getattr(metrics, "render_at_scrape", None)
        extra = render_extra(app) if render_extra is not None else None
        if extra:
            # Its gauge lines read the same in both formats; in OpenMetrics they go before the closing `# EOF`.
            body = body[:-len(OPENMETRICS_EOF)] + extra + OPENMETRICS_EOF if openmetrics else body + extra
        return Response(body, content_type=content_type)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        """Readiness: 200 when the service can serve and store, 503 (saying why) when it cannot."""
        problem = readiness_problem(app)
        if problem is not None:
            return jsonify(status="unavailable", service=name, error="not_ready", message=problem), 503
        return jsonify(status="ok", service=name), 200

    if fault_store is not None:
        token = app.config.get("FAULT_TOKEN", os.environ.get("FAULT_TOKEN", ""))
        app.register_blueprint(admin_blueprint(fault_store, knobs, token))
    return logger
