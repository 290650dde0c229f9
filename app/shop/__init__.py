"""The shop: a small storefront (catalog, product pages, cart, checkout), fully instrumented.

Modules: `api` and `pages` (the blueprints), `store` (the domain logic both
share), `db` (SQLite storage), `payments_client` (the call to payments),
`recommendations` (own CPU work), `faults` (knobs and where they act),
`metrics` (every metric).
"""
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from app.common.faults import FaultStore, fault_store
from app.common.service import data_dir, init_service
from app.shop import api, db, faults, metrics, pages
from app.shop.payments_client import PaymentsClient, Timeouts

VERSION = "1.4.2"


def _env_float(name: str, default: float) -> float:
    """A float from the environment, or `default` when unset or empty."""
    value = os.environ.get(name)
    return float(value) if value else default


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the shop: defaults, then SHOP_-prefixed environment variables, then `config`."""
    app = Flask(__name__)
    app.config.from_mapping(
        VERSION=VERSION,
        PAYMENTS_URL=os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8001"),
        MAX_CONTENT_LENGTH=16 * 1024,
        CART_ABANDON_AFTER_SECONDS=1800,
        PAYMENTS_CONNECT_TIMEOUT_SECONDS=_env_float("PAYMENTS_CONNECT_TIMEOUT_SECONDS", 0.5),
        PAYMENTS_QUOTE_TIMEOUT_SECONDS=_env_float("PAYMENTS_QUOTE_TIMEOUT_SECONDS", 1.0),
        PAYMENTS_CHARGE_TIMEOUT_SECONDS=_env_float("PAYMENTS_CHARGE_TIMEOUT_SECONDS", 3.0),
    )
    app.config.from_prefixed_env("SHOP")
    app.config.update(config or {})
    directory = data_dir(app, "SHOP_DATA_DIR")
    app.config.setdefault("DATABASE", os.path.join(directory, "shop.sqlite3"))
    db.init_db(app.config["DATABASE"])
    app.teardown_appcontext(db.close_db)

    connect = app.config["PAYMENTS_CONNECT_TIMEOUT_SECONDS"]
    app.extensions["payments_client"] = PaymentsClient(
        app.config["PAYMENTS_URL"],
        Timeouts(connect, app.config["PAYMENTS_QUOTE_TIMEOUT_SECONDS"]),
        Timeouts(connect, app.config["PAYMENTS_CHARGE_TIMEOUT_SECONDS"]))
    app.extensions["fault_store"] = FaultStore(os.path.join(directory, "faults.json"))
    metrics.initialise()
    init_service(app, "shop", metrics, faults.KNOBS, fault_store(app))
    # After init_service, so request ids and timing are in place before a fault acts.
    app.before_request(faults.apply_faults)

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    return app
