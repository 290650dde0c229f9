"""Setting up payments' database: WAL mode, the schema, and the upgrade of a database from before request hashes.

Found by mutation testing (issue 17): the upgrade path and its tolerance of a column another worker already added
had no test of their own.
"""
import sqlite3
import time
from contextlib import closing

import pytest

from app.payments import db

OLD_SCHEMA = ("CREATE TABLE charges (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, order_ref TEXT, "
              "amount_cents INTEGER, status TEXT, decline_reason TEXT, created_at REAL)")


def columns(path):
    with closing(sqlite3.connect(path)) as connection:
        return [row[1] for row in connection.execute("PRAGMA table_info(charges)")]


class TableInfoWithout:
    """A connection whose table_info misses one column, as it looked to a worker that read it just before another
    worker added that column; everything else goes to the real connection."""

    def __init__(self, connection, hidden):
        self.connection, self.hidden = connection, hidden

    def execute(self, sql, *args):
        if sql.startswith("PRAGMA table_info"):
            return [row for row in self.connection.execute(sql, *args) if row["name"] != self.hidden]
        return self.connection.execute(sql, *args)

    def close(self):
        self.connection.close()


def test_a_connection_waits_up_to_5_seconds_for_a_lock_and_commits_each_statement(tmp_path):
    """Concurrent workers wait for the write lock (5 s, well past one insert) instead of failing at once, and each
    statement is its own transaction: a stored charge is visible to other workers without a commit."""
    path = str(tmp_path / "payments.sqlite3")
    db.init_db(path)
    with closing(db.connect(path)) as connection, closing(sqlite3.connect(path)) as other:
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        connection.execute("INSERT INTO charges (id, amount_cents) VALUES ('ch_1', 100)")
        assert other.execute("SELECT amount_cents FROM charges WHERE id = 'ch_1'").fetchall() == [(100,)]
        assert connection.execute("SELECT id FROM charges").fetchone()["id"] == "ch_1", "rows are not sqlite3.Row"


def test_a_new_database_is_in_wal_mode_with_the_charges_table(tmp_path):
    """WAL mode (the export never blocks a charge) is a property of the file, set by the setup."""
    path = str(tmp_path / "payments.sqlite3")
    db.init_db(path)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert columns(path) == ["id", "idempotency_key", "order_ref", "amount_cents", "status", "decline_reason",
                             "created_at", "request_hash"]


def test_a_database_from_before_request_hashes_gets_the_column_and_keeps_its_charges(tmp_path):
    """An upgrade adds request_hash (NULL for old charges: they replay by amount) and loses nothing; setting up
    again changes nothing."""
    path = str(tmp_path / "payments.sqlite3")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(OLD_SCHEMA)
        connection.execute("INSERT INTO charges VALUES ('ch_old', 'k-old', 'cart-1', 500, 'approved', NULL, ?)",
                           (time.time(),))
    db.init_db(path)
    db.init_db(path)
    assert columns(path)[-1] == "request_hash"
    with closing(db.connect(path)) as connection:
        old = connection.execute("SELECT * FROM charges").fetchall()
    assert [(row["id"], row["amount_cents"], row["request_hash"]) for row in old] == [("ch_old", 500, None)]


class Recording:
    """A connection that writes down every statement it is asked to run (also those SQLite refuses)."""

    def __init__(self, connection, statements):
        self.connection, self.statements = connection, statements

    def execute(self, sql, *args):
        self.statements.append(sql)
        return self.connection.execute(sql, *args)

    def close(self):
        self.connection.close()


def schema_changes_of_setup(path, monkeypatch):
    """The ALTER statements one setup of `path` asks for."""
    statements = []
    real_connect = db.connect
    with monkeypatch.context() as patch:
        patch.setattr(db, "connect", lambda p: Recording(real_connect(p), statements))
        db.init_db(path)
    return [statement for statement in statements if statement.upper().startswith("ALTER")]


def test_only_a_database_from_before_request_hashes_is_altered(tmp_path, monkeypatch):
    """Setting up an up-to-date database changes no schema (a worker's boot takes no schema write); an old one gets
    exactly the one missing column."""
    path = str(tmp_path / "payments.sqlite3")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(OLD_SCHEMA)
    assert schema_changes_of_setup(path, monkeypatch) == ["ALTER TABLE charges ADD COLUMN request_hash TEXT"]
    assert schema_changes_of_setup(path, monkeypatch) == [], "an up-to-date database was altered"


def test_a_column_another_worker_added_first_is_not_an_error(tmp_path, monkeypatch):
    """Two workers upgrading one old database: the one whose ALTER finds the column already there goes on."""
    path = str(tmp_path / "payments.sqlite3")
    db.init_db(path)
    real_connect = db.connect
    monkeypatch.setattr(db, "connect", lambda p: TableInfoWithout(real_connect(p), "request_hash"))
    db.init_db(path)  # the ALTER fails with "duplicate column name": swallowed
    assert columns(path).count("request_hash") == 1


def test_any_other_failure_to_add_the_column_stops_the_setup(tmp_path, monkeypatch):
    """Only "duplicate column" is expected; another failure (here: a read-only file) must not be swallowed, or the
    service would start without the column every charge needs."""
    path = str(tmp_path / "payments.sqlite3")
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(OLD_SCHEMA)
    real_connect = db.connect

    def read_only(p):
        connection = real_connect(p)
        connection.execute("PRAGMA query_only=ON")
        return connection

    monkeypatch.setattr(db, "connect", read_only)
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
        db.init_db(path)
    assert "request_hash" not in columns(path)
