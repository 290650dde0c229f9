"""Clear errors for bad input: JSON for API clients, a short page for browsers.

Every error body carries a whole-sentence message and the request id. An
unexpected exception is logged with the request id and answered with 500; it
never leaks a traceback to the client. A full disk is not a bug of ours: it is
answered 503 (try again later), so clients and alerts see an unavailable
service, not a broken one. A service with no pages (payments) sets
`JSON_ERRORS_ONLY` and answers JSON to every client.
"""
import errno
import logging
import os
import sqlite3
from collections.abc import Mapping

from flask import Flask, Response, current_app, jsonify, render_template_string, request
from werkzeug.exceptions import HTTPException

from app.common.request_log import current_request_id

ERROR_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{{ status }} {{ title }}</title>
<link rel="stylesheet" href="/static/style.css"></head><body><main class="error">
<h1>{{ status }} {{ title }}</h1><p>{{ message }}</p><p class="muted">Request id: <code>{{ request_id }}</code></p>
<p><a href="/">Back to the catalog</a></p></main></body></html>"""
# A JSON response, or an HTML page as Flask's (body, status, headers) return value.
ErrorResponse = Response | tuple[str, int, Mapping[str, str]]


class ApiError(Exception):
    """An error with an HTTP status, a machine-readable code and a sentence for people."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def wants_json() -> bool:
    """True for JSON-only services, API paths and clients that prefer JSON over HTML."""
    if current_app.config.get("JSON_ERRORS_ONLY"):
        return True
    if request.path.startswith(("/api/", "/admin/", "/webhook")) or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> ErrorResponse:
    """Build the error response in the format the client wants."""
    if wants_json():
        response = jsonify(error=code, message=message, request_id=current_request_id())
    else:
        title = code.replace("_", " ")
        response = render_template_string(ERROR_PAGE, status=status, title=title, message=message,
                                          request_id=current_request_id())
    if not isinstance(response, str):
        response.status_code = status
        response.headers.update(headers or {})
        return response
    return response, status, headers or {}


STORAGE_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
SQLITE_FULL = sqlite3.SQLITE_FULL  # "database or disk is full"
STORAGE_RETRY_AFTER_SECONDS = "30"
# Below this much free space in a service's data directory its next write (an order, a charge,
# a fault switch) is likely to fail: /healthz says "not ready", and storage errors count as "full".
MIN_FREE_BYTES = 1024 * 1024


def data_dir_is_full(app: Flask) -> bool:
    """True when the service's data directory (set by `service.data_dir`) has less than MIN_FREE_BYTES free."""
    directory = app.extensions.get("data_dir")
    if directory is None:
        return False
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES


def is_storage_full(error: BaseException | None) -> bool:
    """True if the error, or one it was raised from, says the disk (or quota) is full."""
    seen = 0
    while error is not None and seen < 10:  # the cause chain, bounded in case it loops
        if isinstance(error, OSError) and error.errno in STORAGE_FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", None) == SQLITE_FULL:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def register_error_handlers(app: Flask, logger: logging.Logger) -> None:
    """Map ApiError, HTTP errors and unexpected exceptions to clear responses."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> ErrorResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> ErrorResponse:
        code = (error.name or "error").lower().replace(" ", "_")
        messages = {
            404: "No such page or resource.",
            405: f"The method {request.method} is not allowed here.",
            413: "The request body is too large.",
        }
        message = messages.get(error.code, (error.description or error.name).strip())
        headers = {}
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        return error_response(error.code or 500, code, message, headers)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> ErrorResponse:
        # SQLite reports some failures of a full disk as I/O errors (e.g. growing its shared-memory
        # file), so a storage error while the data directory is full counts as "full" too.
        if is_storage_full(error) or isinstance(error, (OSError, sqlite3.Error)) and data_dir_is_full(current_app):
            logger.warning("storage full", extra={"fields": {"path": request.path, "error": str(error)}})
            return error_response(503, "storage_full",
                                  "The service cannot store anything right now (its disk is full); "
                                  "nothing was saved, please try again later.",
                                  {"Retry-After": STORAGE_RETRY_AFTER_SECONDS})
        logger.error("unhandled exception", exc_info=error,
                     extra={"fields": {"path": request.path, "error_type": type(error).__name__}})
        return error_response(500, "internal_error",
                              "Something went wrong on our side; the request id identifies it in the logs.")
