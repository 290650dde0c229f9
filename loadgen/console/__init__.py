"""The load generator's web side: demo console, scenario API, status and /metrics on one port.

The browser only ever talks to this server; the fault token stays here. A
mutating request must be JSON (`Content-Type: application/json`): a page on
another origin cannot send that without a CORS preflight, which we never
grant, so a random web page cannot start faults on a demo machine. The
services' request guard (app/common/request_guard.py) adds what that misses:
only known Host names (a DNS-rebinding page is same-origin to the browser),
no write whose Origin is another site, no framing; and a body is at most
MAX_BODY_BYTES and must parse (a body of `{` starts nothing).

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
from app.common.request_guard import RequestGuard, allowed_hosts_from_env
from loadgen.console.links import Links
from loadgen.state import LoadgenState

# The keys of the load generator's state, and of the links built from it, in `app.extensions`.
EXTENSION = "loadgen"
LINKS_EXTENSION = "loadgen.links"
CHANGING_METHODS = ("POST", "PUT", "DELETE")
# The console's requests are a few small JSON objects.
MAX_BODY_BYTES = 64 * 1024


def create_app(state: LoadgenState) -> Flask:
    """The console's Flask app over `state` (the app only serves; `loadgen run` starts traffic and scenarios)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION] = state
    # Built once, so an address a browser cannot use fails here at start, not on every request.
    app.extensions[LINKS_EXTENSION] = Links(state.urls, state.catalog)
    # Every page and API (ALLOWED_HOSTS, as for the services); /metrics and /healthz stay open.
    RequestGuard(allowed_hosts_from_env()).init_app(app)
    app.before_request(_json_only_for_changes)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    # Imported here, as in flaskr: the blueprints import get_state from this module.
    from loadgen.console import api, live, page
    app.register_blueprint(api.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(page.bp)
    live.init_app(app, state.urls.prometheus)
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
