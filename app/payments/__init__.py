"""payments: the fake downstream. Charges cards (with an occasional decline) and quotes stock.

Modules: `api` (the blueprint: quotes, charges, the charges export), `db`
(SQLite storage), `faults` (knobs and the hooks where they act), `metrics`
(every metric).
"""
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.common.faults import FaultStore, fault_store
from app.common.service import data_dir, init_service
from app.payments import api, db, faults, metrics

VERSION = "3.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the payments service: defaults, PAYMENTS_-prefixed environment, then `config`."""
    app = Flask(__name__)
    # JSON_ERRORS_ONLY: payments has no pages, so every client (curl, a browser) gets JSON errors.
    app.config.from_mapping(VERSION=VERSION, MAX_CONTENT_LENGTH=8 * 1024, DECLINE_RATIO=0.04,
                            QUOTE_MEDIAN_SECONDS=0.012, CHARGE_MEDIAN_SECONDS=0.045, JSON_ERRORS_ONLY=True)
    app.config.from_prefixed_env("PAYMENTS")
    app.config.update(config or {})
    directory = data_dir(app, "PAYMENTS_DATA_DIR")
    app.config["DATABASE"] = os.path.join(directory, "payments.sqlite3")
    db.init_db(app.config["DATABASE"])
    app.teardown_appcontext(db.close_db)

    app.extensions["fault_store"] = FaultStore(os.path.join(directory, "faults.json"))
    metrics.initialise()
    init_service(app, "payments", metrics, faults.KNOBS, fault_store(app))
    # After init_service, so request ids and timing are in place before a fault acts, and the
    # trickle runs first of the after-request hooks (they run in reverse order of registration).
    app.before_request(faults.apply_faults)
    app.after_request(faults.trickle_slow_responses)

    app.register_blueprint(api.bp)
    return app
