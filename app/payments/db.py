"""SQLite storage for payments: the charges table and its three queries.

One connection per request, opened on first use and closed when the request
ends (SQLite connections are cheap and must not cross gunicorn's forks); WAL
mode so the export never blocks a charge, and a busy timeout so concurrent
workers wait instead of failing. Statements run in autocommit mode: each is
its own transaction, and the idempotency key's UNIQUE constraint is what keeps
a retry from storing a second charge: every request tries to insert its own
charge, and whoever's insert lost reads back the winner's row, so two requests
racing with one key always answer with the same charge. The key is stored with
a hash of the request it was first used for, so it cannot be replayed for a
different amount or card.
"""
import sqlite3

from flask import current_app, g

from app.common.sqlite_setup import exclusive_setup

SCHEMA = ("CREATE TABLE IF NOT EXISTS charges (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, "
          "order_ref TEXT, amount_cents INTEGER, status TEXT, decline_reason TEXT, created_at REAL, "
          "request_hash TEXT)")
COLUMNS = "id, idempotency_key, order_ref, amount_cents, status, decline_reason, created_at, request_hash"
# `# pragma: no mutate (SQL case)` marks a line of SQL text whose mutants only change its case: equivalent, since
# SQLite ignores the case of keywords and names, and result columns keep their declared names.


def connect(path: str) -> sqlite3.Connection:
    """Open a connection with the settings every worker needs."""
    # Dropping the timeout would be an equivalent mutant (5.0 is sqlite3's default); its value is pinned by
    # tests/unit/test_payments_db_setup.py, which reads the busy timeout back.
    connection = sqlite3.connect(path, isolation_level=None,
                                 timeout=5.0,  # pragma: no mutate (the default)
                                 )
    connection.row_factory = sqlite3.Row
    return connection


def init_db(path: str) -> None:
    """Switch the file to WAL mode and create the charges table if it is missing; workers take turns
    (`exclusive_setup` says why)."""
    with exclusive_setup(path):
        _init_db(path)


def _init_db(path: str) -> None:
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")  # pragma: no mutate (SQL case)
        connection.execute(SCHEMA)
        table_info = connection.execute("PRAGMA table_info(charges)")  # pragma: no mutate (SQL case)
        columns = {row["name"] for row in table_info}  # pragma: no mutate (Row keys: sqlite3.Row ignores their case)
        if "request_hash" not in columns:  # a database from before keys were bound to their request
            try:
                connection.execute("ALTER TABLE charges ADD COLUMN request_hash TEXT")
            except sqlite3.OperationalError as error:  # another worker added it first
                if "duplicate column" not in str(error):
                    raise
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
    return get_db().execute(
        "SELECT * FROM charges WHERE idempotency_key = ?",  # pragma: no mutate (SQL case)
        (idempotency_key,)).fetchone()


def insert_charge(charge_id: str, idempotency_key: str | None, order_ref: str, amount_cents: int, status: str,
                  decline_reason: str | None, created_at: float, request_hash: str | None) -> sqlite3.Row:
    """Store a decided charge and return the charge that holds its idempotency key.

    That is this charge, or, when another request stored one under the same key
    first, that one (and this charge is not stored): one atomic INSERT decides.
    """
    stored = get_db().execute(
        f"INSERT INTO charges ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        (charge_id, idempotency_key, order_ref, amount_cents, status, decline_reason, created_at,
         request_hash)).rowcount
    # Without a key there is no conflict to lose (a clash of random ids raises instead), so `stored` alone decides.
    if stored:
        return get_db().execute(
            "SELECT * FROM charges WHERE id = ?",  # pragma: no mutate (SQL case)
            (charge_id,)).fetchone()
    return charge_for_key(idempotency_key)


def approved_charges_since(since: float) -> list[sqlite3.Row]:
    """Approved charges created at or after `since` (unix seconds), oldest first: the reconcile export."""
    # (Upper-casing 'approved' would not be equivalent: tests/unit/test_payments_export.py checks the status filter.)
    return get_db().execute(
        "SELECT id, order_ref, amount_cents, created_at FROM charges "  # pragma: no mutate (SQL case)
        "WHERE status = 'approved' AND created_at >= ? ORDER BY created_at",  # pragma: no mutate (SQL case)
        (since,)).fetchall()
