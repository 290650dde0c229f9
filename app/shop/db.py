"""SQLite storage for the shop: catalog, carts and orders.

One connection per request (SQLite connections are cheap and not shareable
across gunicorn's forked workers), WAL mode so readers never block the writer,
and a busy timeout so concurrent workers wait instead of failing. Every query
is named and timed into `shop_db_query_duration_seconds{operation}`.
"""
import json
import os
import sqlite3
import time

from flask import current_app, g
from opentelemetry.trace import SpanKind

from app.common import tracing
from app.common.sqlite_setup import exclusive_setup
from app.shop.metrics import DB_QUERY_DURATION

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0), tags TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS carts (
    id TEXT PRIMARY KEY, created_at REAL NOT NULL, checked_out_at REAL);
-- Only open carts can be abandoned: creating a cart finds them through this index, not a table scan.
CREATE INDEX IF NOT EXISTS carts_open_created_at ON carts(created_at) WHERE checked_out_at IS NULL;
CREATE TABLE IF NOT EXISTS cart_items (
    cart_id TEXT NOT NULL REFERENCES carts(id), product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0), PRIMARY KEY (cart_id, product_id));
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT, cart_id TEXT NOT NULL UNIQUE, charge_id TEXT NOT NULL,
    total_cents INTEGER NOT NULL, items TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS orders_created_at ON orders(created_at);
"""

# Columns added after the first release: (name, declaration). A cart with a pending total is frozen:
# a charge for that total may be in flight under the key of its checkout attempt.
CART_COLUMNS = (("checkout_attempt", "INTEGER NOT NULL DEFAULT 0"), ("pending_total", "INTEGER"),
                ("pending_items", "TEXT"))

CATALOG_FILE = os.path.join(os.path.dirname(__file__), "catalog.json")


def connect(path):
    """Open a connection with the settings every worker needs."""
    connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def init_db(path):
    """Switch the file to WAL mode, create the schema and seed the catalog; workers take turns
    (`exclusive_setup` says why)."""
    with exclusive_setup(path):
        _init_db(path)


def _init_db(path):
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)  # idempotent: a restarted worker finds everything in place
        _add_missing_columns(connection, "carts", CART_COLUMNS)
        with open(CATALOG_FILE) as catalog:
            products = json.load(catalog)
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT OR IGNORE INTO products (id, name, description, price_cents, tags) VALUES (?, ?, ?, ?, ?)",
            [(p["id"], p["name"], p["description"], p["price_cents"], " ".join(p["tags"])) for p in products])
        connection.execute("COMMIT")
    finally:
        connection.close()


def _add_missing_columns(connection, table, columns):
    """Bring a database from an older release up to date (a worker racing us may add a column first)."""
    present = {row["name"] for row in connection.execute(f"PRAGMA table_info({table})")}
    for name, declaration in columns:
        if name not in present:
            try:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")
            except sqlite3.OperationalError as error:
                if "duplicate column" not in str(error):
                    raise


def get_db():
    """The request's connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc=None):
    """Close the request's connection, if any."""
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def _span(operation):
    """The span of a named query: the same place, and name, as its DB_QUERY_DURATION series."""
    return tracing.span(f"db {operation}", SpanKind.CLIENT, {"db.system": "sqlite", "db.operation.name": operation})


def query(operation, sql, args=()):
    """Run a named read query and return all rows."""
    with _span(operation), DB_QUERY_DURATION.labels(operation).time():
        return get_db().execute(sql, args).fetchall()


def execute(operation, sql, args=()):
    """Run a named write statement; return the cursor."""
    with _span(operation), DB_QUERY_DURATION.labels(operation).time():
        return get_db().execute(sql, args)


class transaction:
    """A write transaction that takes the lock up front (BEGIN IMMEDIATE), timed as one operation."""

    def __init__(self, operation):
        self.timer = DB_QUERY_DURATION.labels(operation).time()
        self.span = _span(operation)

    def __enter__(self):
        self.span.__enter__()
        self.timer.__enter__()
        get_db().execute("BEGIN IMMEDIATE")
        return get_db()

    def __exit__(self, exc_type, exc, tb):
        try:
            get_db().execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.timer.__exit__(exc_type, exc, tb)
            self.span.__exit__(exc_type, exc, tb)
        return False


def now():
    """Wall-clock time in seconds (one place, so tests can reason about it)."""
    return time.time()
