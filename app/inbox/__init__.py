"""The alert inbox: receives Alertmanager webhooks, keeps them in SQLite, shows them.

Routes: /admin/faults (the fault token; faults.py: refuse_webhooks), POST /webhook (Alertmanager, with
its bearer token), POST /heartbeat (the Watchdog, same token: the dead man's switch, heartbeat.py),
GET / (web page), GET /api/notifications, GET /api/alerts and GET /api/heartbeat (JSON for scripts and
the drill), GET /runbooks (the rendered docs/runbooks.md), plus /metrics and /healthz from the common service.
The page draws each alert's graph from Prometheus at PROMETHEUS_URL (graphs.py), and beside it the panel
its runbook opens (story_graphs.py), linked to Grafana or, where none runs, to Prometheus (DASHBOARD_LINKS);
a latency or error alert links to example traces of its window in Zipkin (trace_links.py).
"""
import os
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.common import dashboard_links
from app.common.faults import FaultStore, fault_store
from app.common.service import data_dir, init_service
from app.inbox import api, faults, graphs, heartbeat, metrics, pages, runbooks, story_graphs, trace_links, webhook
from app.inbox.db import DEFAULT_MAX_AGE_SECONDS, DEFAULT_MAX_NOTIFICATIONS, Store

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Alertmanager sends at most `max_alerts` alerts per notification (alertmanager.yml); the rest it counts
# in truncatedAlerts. The inbox refuses more, so one post cannot fill its memory or its page.
DEFAULT_MAX_ALERTS = 100


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the inbox app: defaults, then INBOX_* environment variables, then `config`."""
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY_BYTES, RUNBOOKS_PATH=None, DATA_DIR=None,
                            MAX_ALERTS_PER_NOTIFICATION=DEFAULT_MAX_ALERTS,
                            RETENTION_SECONDS=DEFAULT_MAX_AGE_SECONDS,
                            RETENTION_NOTIFICATIONS=DEFAULT_MAX_NOTIFICATIONS,
                            HEARTBEAT_LATE_SECONDS=heartbeat.DEFAULT_LATE_SECONDS,
                            # A heartbeat is expected only a late threshold after the inbox started.
                            STARTED_AT=time.time(),
                            # Every page and API of the inbox is a control surface (request_guard.py).
                            REQUEST_GUARD_PATHS=("/",),
                            # Like FAULT_TOKEN: from the environment (compose: the entrypoint reads WEBHOOK_TOKEN_FILE).
                            WEBHOOK_TOKEN=os.environ.get("WEBHOOK_TOKEN", ""),
                            # The alerts' graphs (graphs.py); the launcher and compose set it, like every *_URL.
                            PROMETHEUS_URL=os.environ.get("PROMETHEUS_URL", ""),
                            # Grafana, or Prometheus's graph page where no Grafana runs (the launcher sets it).
                            DASHBOARD_LINKS=dashboard_links.target_from_env())
    # e.g. INBOX_MAX_CONTENT_LENGTH=2097152, INBOX_RUNBOOKS_PATH=/srv/runbooks.md, INBOX_RETENTION_SECONDS=86400,
    # INBOX_HEARTBEAT_LATE_SECONDS=30 (tests of the dead man's switch)
    app.config.from_prefixed_env("INBOX")
    if config:
        app.config.from_mapping(config)

    directory = data_dir(app, "INBOX_DATA_DIR")
    app.extensions["inbox_store"] = Store(directory,
                                          max_age_seconds=float(app.config["RETENTION_SECONDS"]),
                                          max_notifications=int(app.config["RETENTION_NOTIFICATIONS"]))
    # The admin API (FAULT_TOKEN) switches refuse_webhooks, the alerting-pipeline-broken scenario.
    app.extensions["fault_store"] = FaultStore(os.path.join(directory, "faults.json"))
    app.extensions["inbox_graph_cache"] = graphs.GraphCache()
    metrics.initialise()
    init_service(app, "inbox", metrics, faults.KNOBS, fault_store(app))
    # After init_service, so a refused post is logged and timed like any other request.
    app.before_request(faults.apply_faults)
    for module in (webhook, heartbeat, api, pages, graphs, story_graphs, trace_links, runbooks):
        app.register_blueprint(module.bp)
    return app
