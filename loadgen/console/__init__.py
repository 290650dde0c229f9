"""The load generator's web side: demo console, scenario API, status and /metrics on one port.

The browser only ever talks to this server; the fault token stays here. A
mutating request must be JSON (`Content-Type: application/json`): a page on
another origin cannot send that without a CORS preflight, which we never
grant, so a random web page cannot start faults on a demo machine.
"""
import logging
import threading

from flask import Flask, Response, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server

from loadgen.alerts import AlertSourceError
from loadgen.config import browser_url
from loadgen.scenario_manager import ScenarioError

DEFAULT_NOTIFICATIONS = 15


class ApiError(Exception):
    """An error answer: status, code and a sentence."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def links(urls, catalog):
    """Functions building runbook and dashboard links a browser can open."""
    inbox = urls.inbox_public or browser_url(urls.inbox, 8002)
    grafana = browser_url(urls.grafana, 3000)
    dashboard_of_alert = {}
    for scenario in reversed(list(catalog.values())):  # the first scenario naming an alert as its runbook wins
        dashboard_of_alert[scenario.runbook] = scenario.dashboard_uid

    def runbook(anchor):
        return f"{inbox}/runbooks#{anchor.lower()}"

    def dashboard(uid):
        return f"{grafana}/d/{uid}"

    def dashboard_for_alert(alert):
        name = alert.get("alertname", "")
        uid = dashboard_of_alert.get(name.lower()) or ("shop-slos" if "slo" in alert.get("labels", {})
                                                       else "shop-overview")
        return dashboard(uid)
    return runbook, dashboard, dashboard_for_alert


def create_app(state):
    """The Flask app over `state` (a loadgen.state.LoadgenState)."""
    app = Flask(__name__)
    runbook, dashboard, dashboard_for_alert = links(state.urls, state.catalog)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per console poll

    @app.errorhandler(ApiError)
    def _api_error(error):
        return jsonify(error=error.code, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error):
        return jsonify(error=error.name.lower().replace(" ", "_"), message=error.description), error.code

    @app.before_request
    def _json_only_for_changes():
        if request.method in ("POST", "PUT", "DELETE") and not request.is_json:
            raise ApiError(415, "json_required", "Requests that change something must send a JSON body "
                                                 "(Content-Type: application/json).")

    def body():
        data = request.get_json(silent=True)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
        return data

    def scenario_view(scenario):
        view = scenario.summary()
        view.update(active=state.manager.describe(scenario.name), runbook_url=runbook(scenario.runbook),
                    dashboard_url=dashboard(scenario.dashboard_uid))
        return view

    @app.get("/")
    def console():
        return send_from_directory(app.static_folder, "console.html")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": "loadgen"}

    @app.get("/metrics")
    def metrics():
        payload, content_type = state.metrics.exposition()
        return Response(payload, content_type=content_type)

    @app.get("/api/scenarios")
    def scenarios():
        return jsonify(scenarios=[scenario_view(s) for s in state.catalog.values()])

    @app.post("/api/scenarios/<name>")
    def start_scenario(name):
        try:
            started = state.manager.start(name, body().get("duration_seconds"))
        except ScenarioError as error:
            raise ApiError(error.status, "scenario_not_started", str(error)) from None
        return jsonify(started), 201

    @app.delete("/api/scenarios/<name>")
    def stop_scenario(name):
        try:
            state.manager.stop(name)
        except ScenarioError as error:
            raise ApiError(error.status, "scenario_not_stopped", str(error)) from None
        return jsonify(scenario_view(state.catalog[name]))

    @app.delete("/api/scenarios")
    def stop_all():
        return jsonify(problems=state.manager.stop_all(), active=state.manager.active())

    @app.get("/api/status")
    def status():
        return jsonify(traffic=state.traffic.snapshot(), active=state.manager.active(),
                       grafana_url=dashboard("shop-overview").rsplit("/d/", 1)[0])

    @app.put("/api/rate")
    def set_rate():
        rate = body().get("rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1000:
            raise ApiError(400, "invalid_rate", "rate must be a number of journeys per second from 0 to 1000.")
        state.traffic.set_base_rate(rate)
        return jsonify(traffic=state.traffic.snapshot())

    @app.get("/api/notifications")
    def notifications():
        limit = request.args.get("limit", DEFAULT_NOTIFICATIONS, type=int)
        if not 1 <= limit <= 100:
            raise ApiError(400, "invalid_limit", "limit must be a whole number from 1 to 100.")
        try:
            alerts = state.sources.recent_notifications(limit)
        except AlertSourceError as error:
            raise ApiError(502, "inbox_unavailable", str(error)) from None
        return jsonify(notifications=[{
            "alertname": a.get("alertname"), "status": a.get("status"), "received_at": a.get("received_at"),
            "severity": a.get("labels", {}).get("severity"),
            "summary": a.get("annotations", {}).get("summary", ""),
            "labels": a.get("labels", {}), "runbook_url": runbook(a.get("alertname", "")),
            "dashboard_url": dashboard_for_alert(a)} for a in alerts])

    return app


class ConsoleServer:
    """The Flask app on a werkzeug server in a background thread (threaded: console polls never queue)."""

    def __init__(self, app, host, port):
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port

    def start(self):
        """Serve in a daemon thread."""
        self.thread = threading.Thread(target=self.server.serve_forever, name="loadgen-http", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
