"""The shop: a small storefront (catalog, product pages, cart, checkout), fully instrumented."""
import os

from flask import Flask, request

from app.common.faults import FaultStore
from app.common.http_metrics import route_label
from app.common.service import data_dir, init_service
from app.shop import db, faults, metrics
from app.shop.api import api
from app.shop.pages import pages
from app.shop.payments_client import PaymentsClient, Timeouts

VERSION = "1.4.2"
# Ops and admin routes never get injected errors: a fault must not hide itself.
FAULT_FREE_PREFIXES = ("/metrics", "/healthz", "/admin", "/static")


def _env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value else default


def create_app(config=None):
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
        BAD_DEPLOY_VERSIONS=(faults.BAD_DEPLOY.params["version"].default,),
    )
    app.config.from_prefixed_env("SHOP")
    app.config.update(config or {})
    directory = data_dir(app, "SHOP_DATA_DIR")
    app.config.setdefault("DATABASE", os.path.join(directory, "shop.sqlite3"))
    db.init_db(app.config["DATABASE"])
    app.teardown_appcontext(db.close_db)

    connect = app.config["PAYMENTS_CONNECT_TIMEOUT_SECONDS"]
    app.payments = PaymentsClient(app.config["PAYMENTS_URL"],
                                  Timeouts(connect, app.config["PAYMENTS_QUOTE_TIMEOUT_SECONDS"]),
                                  Timeouts(connect, app.config["PAYMENTS_CHARGE_TIMEOUT_SECONDS"]))
    app.fault_store = FaultStore(os.path.join(directory, "faults.json"))
    metrics.initialise()
    init_service(app, "shop", metrics, faults.KNOBS, app.fault_store)

    @app.before_request
    def _inject_faults():
        if request.path.startswith(FAULT_FREE_PREFIXES):
            return
        faults.leak_memory(app)
        if faults.injected_error(app, route_label()):
            raise RuntimeError("Injected fault: this request fails on purpose (bad_deploy or route_errors).")

    app.register_blueprint(pages)
    app.register_blueprint(api)
    return app
