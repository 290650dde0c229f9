"""What programs read from the console: the JSON API the page polls and drives, /healthz and /metrics.

Every request that changes something sends JSON (see loadgen/console/__init__.py);
every refusal is an ApiError with a sentence, so the page and `loadgen trigger`
can show it as it is.
"""
import copy
import json
import os
from typing import Any

import yaml
from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from app.common.errors import ApiError
from app.common.parsing import ascii_int
from app.common.request_guard import bounded_body
from loadgen.alerts import AlertSourceError
from loadgen.catalog import Scenario
from loadgen.console import get_links, get_state
from loadgen.scenario_manager import ScenarioError

DEFAULT_NOTIFICATIONS = 15
MAX_NOTIFICATIONS = 100
MAX_RATE = 1000

OPENAPI_FILE = os.path.join(os.path.dirname(__file__), "openapi.yaml")
with open(OPENAPI_FILE) as _spec:
    OPENAPI = yaml.safe_load(_spec)

bp = Blueprint("api", __name__)


def _body() -> dict[str, Any]:
    """The request's JSON object; 400 if it is empty or does not parse, 413 if too long."""
    raw = bounded_body(current_app.config["MAX_CONTENT_LENGTH"])
    if not raw.strip():
        raise ApiError(400, "invalid_json", "The request body is empty; send a JSON object ({} when there is "
                                            "nothing to say).")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON; send a JSON object.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return data


def _scenario_view(scenario: Scenario) -> dict[str, Any]:
    """A scenario's summary with its active state and the links the page shows."""
    links = get_links()
    view = scenario.summary()
    view.update(active=get_state().manager.describe(scenario.name), runbook_url=links.runbook(scenario.runbook),
                dashboard_url=links.panel(scenario.dashboard_uid, scenario.dashboard_panel))
    return view


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Alive, and a load generator (what `loadgen trigger` checks before it goes through us)."""
    return {"status": "ok", "service": "loadgen"}


@bp.get("/metrics")
def metrics() -> Response:
    """The load generator's registry for Prometheus."""
    payload, content_type = get_state().metrics.exposition()
    return Response(payload, content_type=content_type)


@bp.get("/api/openapi.json")
def openapi() -> ResponseReturnValue:
    """The API description (OpenAPI 3), with this catalog's scenario names as the only valid `name`."""
    spec = copy.deepcopy(OPENAPI)
    spec["components"]["schemas"]["ScenarioName"]["enum"] = list(get_state().catalog)
    return jsonify(spec)


@bp.get("/api/scenarios")
def scenarios() -> ResponseReturnValue:
    """The whole catalog, each scenario with its state and links."""
    return jsonify(scenarios=[_scenario_view(s) for s in get_state().catalog.values()])


@bp.post("/api/scenarios/<name>")
def start_scenario(name: str) -> ResponseReturnValue:
    """Start a scenario (or extend it) for `duration_seconds`, by default the catalog's."""
    body = _body()
    if "duration_seconds" in body and body["duration_seconds"] is None:
        raise ApiError(400, "scenario_not_started", "duration_seconds must be a number of seconds; leave it out "
                                                    "for the catalog's default.")
    try:
        started = get_state().manager.start(name, body.get("duration_seconds"))
    except ScenarioError as error:
        raise ApiError(error.status, "scenario_not_started", str(error)) from None
    return jsonify(started), 201


@bp.delete("/api/scenarios/<name>")
def stop_scenario(name: str) -> ResponseReturnValue:
    """Stop a scenario now; answer its view (no longer active)."""
    _body()  # `{}`: it carries nothing, but a body that does not parse is refused, as everywhere
    state = get_state()
    try:
        state.manager.stop(name)
    except ScenarioError as error:
        raise ApiError(error.status, "scenario_not_stopped", str(error)) from None
    return jsonify(_scenario_view(state.catalog[name]))


@bp.delete("/api/scenarios")
def stop_all() -> ResponseReturnValue:
    """Stop every scenario and switch every fault knob off; answer the problems as sentences."""
    _body()
    manager = get_state().manager
    return jsonify(problems=manager.stop_all(), active=manager.active())


@bp.get("/api/status")
def status() -> ResponseReturnValue:
    """Traffic stats, active scenarios and where Grafana is."""
    state = get_state()
    return jsonify(traffic=state.traffic.snapshot(), active=state.manager.active(), grafana_url=get_links().grafana)


@bp.put("/api/rate")
def set_rate() -> ResponseReturnValue:
    """Change the baseline rate (journeys per second)."""
    rate = _body().get("rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= MAX_RATE:
        raise ApiError(400, "invalid_rate", f"rate must be a number of journeys per second from 0 to {MAX_RATE}.")
    traffic = get_state().traffic
    traffic.set_base_rate(rate)
    return jsonify(traffic=traffic.snapshot())


@bp.get("/api/notifications")
def notifications() -> ResponseReturnValue:
    """The newest alerts in the inbox, each with its runbook and dashboard links."""
    limit = ascii_int(request.args.get("limit", str(DEFAULT_NOTIFICATIONS)))  # type=int hides 'ten' as 15
    if limit is None or not 1 <= limit <= MAX_NOTIFICATIONS:
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_NOTIFICATIONS}.")
    try:
        alerts = get_state().sources.recent_notifications(limit)
    except AlertSourceError as error:
        raise ApiError(502, "inbox_unavailable", str(error)) from None
    links = get_links()
    return jsonify(notifications=[{
        "alertname": a.get("alertname"), "status": a.get("status"), "received_at": a.get("received_at"),
        "severity": a.get("labels", {}).get("severity"),
        "summary": a.get("annotations", {}).get("summary", ""),
        "labels": a.get("labels", {}), "runbook_url": links.runbook(a.get("alertname", "")),
        "dashboard_url": links.dashboard_for_alert(a)} for a in alerts])
