"""The load generator's web side: demo console, scenario API, status and /metrics on one port.

The browser only ever talks to this server; the fault token stays here. A
mutating request must be JSON (`Content-Type: application/json`): a page on
another origin cannot send that without a CORS preflight, which we never
grant, so a random web page cannot start faults on a demo machine.

Errors are raised as the services' `app.common.errors.ApiError`, but answered
by the console's own two handlers: always `{"error": code, "message": sentence}`.
The services' handlers would add a request id the console does not assign,
reword 404 and 405, and answer browsers with an HTML page styled by a sheet
the console does not serve.
"""
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.common.errors import ApiError
from loadgen.console.links import Links
from loadgen.state import LoadgenState

# The keys of the load generator's state, and of the links built from it, in `app.extensions`.
EXTENSION = "loadgen"
LINKS_EXTENSION = "loadgen.links"
CHANGING_METHODS = ("POST", "PUT", "DELETE")


def create_app(state: LoadgenState) -> Flask:
    """The console's Flask app over `state` (the app only serves; `loadgen run` starts traffic and scenarios)."""
    app = Flask(__name__)
    app.extensions[EXTENSION] = state
    # Built once, so an address a browser cannot use fails here at start, not on every request.
    app.extensions[LINKS_EXTENSION] = Links(state.urls, state.catalog)
    app.before_request(_json_only_for_changes)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    # Imported here, as in flaskr: the blueprints import get_state from this module.
    from loadgen.console import api, page
    app.register_blueprint(api.bp)
    app.register_blueprint(page.bp)
    return app


def get_state() -> LoadgenState:
    """The load generator state of the app handling the current request."""
    return current_app.extensions[EXTENSION]


def get_links() -> Links:
    """The runbook and dashboard links of the app handling the current request."""
    return current_app.extensions[LINKS_EXTENSION]


def _json_only_for_changes() -> None:
    """Refuse a changing request without a JSON body (the CSRF guard the module docstring explains)."""
    if request.method in CHANGING_METHODS and not request.is_json:
        raise ApiError(415, "json_required", "Requests that change something must send a JSON body "
                                             "(Content-Type: application/json).")


def _api_error(error: ApiError) -> ResponseReturnValue:
    """An ApiError as JSON: its code, its sentence, its status and headers."""
    return jsonify(error=error.code, message=error.message), error.status, error.headers


def _http_error(error: HTTPException) -> ResponseReturnValue:
    """Werkzeug's HTTP errors (404, 405, ...) in the same JSON shape, with werkzeug's description."""
    return jsonify(error=error.name.lower().replace(" ", "_"), message=error.description), error.code
