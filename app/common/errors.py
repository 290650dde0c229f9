"""Clear errors for bad input: JSON for API clients, a short page for browsers.

Every error body carries a whole-sentence message and the request id. An
unexpected exception is logged with the request id and answered with 500; it
never leaks a traceback to the client.
"""
import logging
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template_string, request
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
    """True for API paths and clients that prefer JSON over HTML."""
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
        logger.error("unhandled exception", exc_info=error,
                     extra={"fields": {"path": request.path, "error_type": type(error).__name__}})
        return error_response(500, "internal_error",
                              "Something went wrong on our side; the request id identifies it in the logs.")
