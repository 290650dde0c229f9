"""The alert inbox: receives Alertmanager webhooks, keeps them in SQLite, shows them.

Routes: POST /webhook (Alertmanager), GET / (web page), GET /api/notifications
and GET /api/alerts (JSON for scripts and the drill), GET /runbooks (the
rendered docs/runbooks.md), plus /metrics and /healthz from the common service.
"""
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.common.service import data_dir, init_service
from app.inbox import api, metrics, pages, runbooks, webhook
from app.inbox.db import Store

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the inbox app: defaults, then INBOX_* environment variables, then `config`."""
    app = Flask(__name__)
    app.config.from_mapping(MAX_CONTENT_LENGTH=DEFAULT_MAX_BODY_BYTES, RUNBOOKS_PATH=None, DATA_DIR=None)
    # e.g. INBOX_MAX_CONTENT_LENGTH=2097152, INBOX_RUNBOOKS_PATH=/srv/runbooks.md
    app.config.from_prefixed_env("INBOX")
    if config:
        app.config.from_mapping(config)

    app.extensions["inbox_store"] = Store(data_dir(app, "INBOX_DATA_DIR"))
    metrics.initialise()
    init_service(app, "inbox", metrics)
    for module in (webhook, api, pages, runbooks):
        app.register_blueprint(module.bp)
    return app
