"""SQLite storage for payments: the charges table and its three queries.

One connection per request, opened on first use and closed when the request
ends (SQLite connections are cheap and must not cross gunicorn's forks); WAL
mode so the export never blocks a charge, and a busy timeout so concurrent
workers wait instead of failing. Statements run in autocommit mode: each is
its own transaction, and the idempotency key's UNIQUE constraint (with
INSERT OR IGNORE) is what keeps a retry from storing a second charge.
"""
import sqlite3

from flask import current_app, g

SCHEMA = ("CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, "
          "order_ref TEXT, amount_cents INTEGER, status TEXT, decline_reason TEXT, created_at REAL)")


def connect(path: str) -> sqlite3.Connection:
    """Open a connection with the settings every worker needs."""
    connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def init_db(path: str) -> None:
    """Create the charges table if it is missing (safe when workers race to do it)."""
    connection = connect(path)
    try:
        connection.execute(SCHEMA)
    finally:
        connection.close()


def get_db() -> sqlite3.Connection:
    """The request's connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's connection, if any."""
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


def charge_for_key(idempotency_key: str) -> sqlite3.Row | None:
    """The charge stored under this idempotency key, if there is one."""
    return get_db().execute("SELECT * FROM charges WHERE idempotency_key = ?", (idempotency_key,)).fetchone()


def insert_charge(charge_id: str, idempotency_key: str | None, order_ref: str, amount_cents: int, status: str,
                  decline_reason: str | None, created_at: float) -> None:
    """Store a decided charge; a second charge under the same idempotency key is ignored."""
    get_db().execute("INSERT OR IGNORE INTO charges VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (charge_id, idempotency_key, order_ref, amount_cents, status, decline_reason, created_at))


def approved_charges_since(since: float) -> list[sqlite3.Row]:
    """Approved charges created at or after `since` (unix seconds), oldest first: the reconcile export."""
    return get_db().execute(
        "SELECT id, order_ref, amount_cents, created_at FROM charges "
        "WHERE status = 'approved' AND created_at >= ? ORDER BY created_at", (since,)).fetchall()
