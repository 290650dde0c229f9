"""Wire the shared parts into a Flask service: logs, errors, metrics, health, faults."""
import logging
import os
from collections.abc import Sequence
from types import ModuleType

from flask import Flask, Response

from app.common.errors import register_error_handlers
from app.common.faults import FaultStore, Knob, admin_blueprint
from app.common.http_metrics import RequestInstrumentation
from app.common.multiprocess_metrics import render_metrics
from app.common.request_guard import guard_service
from app.common.request_log import RequestLog, configure_logging


def data_dir(app: Flask, variable: str) -> str:
    """The service's data directory from config or environment, created if missing."""
    path = app.config.get("DATA_DIR") or os.environ.get(variable) or os.path.join(os.getcwd(), "var", app.name)
    os.makedirs(path, exist_ok=True)
    return path


def init_service(app: Flask, name: str, metrics: ModuleType, knobs: Sequence[Knob] = (),
                 fault_store: FaultStore | None = None) -> logging.Logger:
    """Register request logs, error pages, instrumentation, /metrics, /healthz and /admin.

    `metrics` is the service's metrics module: its REQUEST_DURATION and
    REQUESTS_IN_PROGRESS, and if it has them RESIDENT_MEMORY, REQUEST_CAPACITY
    and `refresh_at_scrape(app)`.
    """
    logger = configure_logging(name)
    app.extensions["json_logger"] = logger
    RequestLog(logger).init_app(app)
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
        body, content_type = render_metrics()
        return Response(body, content_type=content_type)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    if fault_store is not None:
        token = app.config.get("FAULT_TOKEN", os.environ.get("FAULT_TOKEN", ""))
        app.register_blueprint(admin_blueprint(fault_store, knobs, token))
    return logger
