"""SQLite storage for notifications and their alerts.

One database file in the inbox's data directory, in WAL mode so readers never
block the webhook writer and several gunicorn workers can share it. Each call
opens its own short-lived connection (cheap for SQLite, and safe across
forks); writes take the write lock up front (`BEGIN IMMEDIATE`) and wait up to
`BUSY_TIMEOUT_SECONDS` for another worker instead of failing.

Retention keeps the file bounded: each write also drops the notifications
(and their alerts) older than `max_age_seconds` or beyond the newest
`max_notifications`. Listings page backwards by id (`before`), so a page costs
the same however long the history is.

The inbox's factory puts its Store in `app.extensions["inbox_store"]`; code
reads it with `inbox_store()`.
"""
import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from flask import Flask, current_app

from app.common.sqlite_setup import exclusive_setup
from app.inbox.payload import Notification

DB_NAME = "inbox.sqlite3"
BUSY_TIMEOUT_SECONDS = 10
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_NOTIFICATIONS = 10_000
# 2: the heartbeat table (added by IF NOT EXISTS to a version 1 file, nothing else changed).
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    status TEXT NOT NULL,
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    group_labels TEXT NOT NULL,
    common_labels TEXT NOT NULL,
    common_annotations TEXT NOT NULL,
    external_url TEXT NOT NULL,
    truncated_alerts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications(id),
    received_at REAL NOT NULL,
    alertname TEXT NOT NULL,
    status TEXT NOT NULL,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    generator_url TEXT NOT NULL,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_notification ON alerts(notification_id);
CREATE INDEX IF NOT EXISTS alerts_by_name ON alerts(alertname, id);
CREATE INDEX IF NOT EXISTS notifications_by_time ON notifications(received_at);
-- The dead man's switch (heartbeat.py): one row, the time the last Watchdog notification arrived.
CREATE TABLE IF NOT EXISTS heartbeat (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seen REAL NOT NULL
);
"""


class Store:
    """Notifications and alerts in one SQLite file."""

    def __init__(self, directory: str, clock: Callable[[], float] = time.time,
                 max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
                 max_notifications: int = DEFAULT_MAX_NOTIFICATIONS) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, DB_NAME)
        self.clock = clock
        self.max_age_seconds = max_age_seconds
        self.max_notifications = max_notifications
        with exclusive_setup(self.path), self._connect() as db:
            # WAL is a property of the file: set once, it survives restarts.
            db.execute("PRAGMA journal_mode=WAL")
            # One transaction, so a worker never sees half a schema; IF NOT EXISTS lets
            # several workers start at once.
            db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A short-lived connection that waits for the write lock instead of failing."""
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    def add(self, notification: Notification) -> int:
        """Store a notification and each of its alerts atomically; return the notification id."""
        now = self.clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(
                    "INSERT INTO notifications (received_at, status, receiver, group_key, group_labels,"
                    " common_labels, common_annotations, external_url, truncated_alerts)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (now, notification.status, notification.receiver, notification.group_key,
                     json.dumps(notification.group_labels), json.dumps(notification.common_labels),
                     json.dumps(notification.common_annotations), notification.external_url,
                     notification.truncated_alerts))
                notification_id = cursor.lastrowid
                db.executemany(
                    "INSERT INTO alerts (notification_id, received_at, alertname, status, labels, annotations,"
                    " starts_at, ends_at, generator_url, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(notification_id, now, alert.labels.get("alertname", ""), alert.status,
                      json.dumps(alert.labels), json.dumps(alert.annotations), alert.starts_at,
                      alert.ends_at, alert.generator_url, alert.fingerprint) for alert in notification.alerts])
                self._prune(db, now)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return notification_id

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Drop what retention no longer keeps (inside the caller's write transaction).

        Ids grow with time, so both limits become one cut-off id: everything at
        or below it goes, alerts first (they reference their notification).
        """
        too_old = db.execute("SELECT MAX(id) FROM notifications WHERE received_at < ?",
                             (now - self.max_age_seconds,)).fetchone()[0]
        too_many = db.execute("SELECT id FROM notifications ORDER BY id DESC LIMIT 1 OFFSET ?",
                              (self.max_notifications,)).fetchone()
        cutoff = max(too_old or 0, too_many[0] if too_many else 0)
        if cutoff:
            db.execute("DELETE FROM alerts WHERE notification_id <= ?", (cutoff,))
            db.execute("DELETE FROM notifications WHERE id <= ?", (cutoff,))

    def record_heartbeat(self) -> float:
        """Note that the alerting pipeline's heartbeat arrived now; return that time (unix seconds)."""
        now = self.clock()
        with self._connect() as db:
            db.execute("INSERT INTO heartbeat (id, last_seen) VALUES (1, ?)"
                       " ON CONFLICT (id) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)", (now,))
        return now

    def last_heartbeat(self) -> float | None:
        """When the last heartbeat arrived (unix seconds), or None if none ever did."""
        with self._connect() as db:
            row = db.execute("SELECT last_seen FROM heartbeat WHERE id = 1").fetchone()
        return row[0] if row else None

    def alerts(self, alertname: str | None = None, status: str | None = None, since: float | None = None,
               limit: int = 100, notification_ids: Sequence[int] | None = None,
               before: int | None = None) -> list[dict[str, Any]]:
        """Alerts matching the filters, newest first (ids below `before` only, when given)."""
        where, params = _filters("a", alertname, status, since, before)
        if notification_ids is not None:
            where.append(f"a.notification_id IN ({','.join('?' * len(notification_ids))})")
            params.extend(notification_ids)
        query = "SELECT * FROM alerts a" + _where(where) + " ORDER BY a.id DESC LIMIT ?"
        with self._connect() as db:
            return [_alert_dict(row) for row in db.execute(query, params + [limit])]

    def notifications(self, alertname: str | None = None, status: str | None = None, since: float | None = None,
                      limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        """Notifications matching the filters, newest first, each with its alerts (ids below `before`)."""
        where, params = _filters("n", None, status, since, before)
        if alertname is not None:
            where.append("EXISTS (SELECT 1 FROM alerts a WHERE a.notification_id = n.id AND a.alertname = ?)")
            params.append(alertname)
        query = "SELECT * FROM notifications n" + _where(where) + " ORDER BY n.id DESC LIMIT ?"
        with self._connect() as db:
            rows = [_notification_dict(row) for row in db.execute(query, params + [limit])]
        if rows:
            by_id = {row["id"]: row for row in rows}
            for alert in self.alerts(limit=-1, notification_ids=list(by_id)):
                by_id[alert["notification_id"]]["alerts"].insert(0, alert)
        return rows


def inbox_store(app: Flask | None = None) -> Store:
    """The inbox's Store: of `app`, or of the app handling the current request."""
    return (current_app if app is None else app).extensions["inbox_store"]


def _filters(table, alertname, status, since, before=None):
    """SQL conditions and parameters for the common filters."""
    where, params = [], []
    if before is not None:
        where.append(f"{table}.id < ?")
        params.append(before)
    if alertname is not None:
        where.append(f"{table}.alertname = ?")
        params.append(alertname)
    if status is not None:
        where.append(f"{table}.status = ?")
        params.append(status)
    if since is not None:
        where.append(f"{table}.received_at >= ?")
        params.append(since)
    return where, params


def _where(clauses):
    """A WHERE clause joining the conditions, or nothing."""
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def _alert_dict(row):
    """An alert row as the JSON API shows it (Alertmanager's field names)."""
    labels = json.loads(row["labels"])
    return {
        "id": row["id"], "notification_id": row["notification_id"], "received_at": row["received_at"],
        "alertname": row["alertname"], "status": row["status"], "labels": labels,
        "annotations": json.loads(row["annotations"]), "startsAt": row["starts_at"],
        "endsAt": row["ends_at"], "generatorURL": row["generator_url"], "fingerprint": row["fingerprint"],
    }


def _notification_dict(row):
    """A notification row as the JSON API shows it, alerts filled in by the caller."""
    return {
        "id": row["id"], "received_at": row["received_at"], "status": row["status"],
        "receiver": row["receiver"], "groupKey": row["group_key"],
        "groupLabels": json.loads(row["group_labels"]), "commonLabels": json.loads(row["common_labels"]),
        "commonAnnotations": json.loads(row["common_annotations"]), "externalURL": row["external_url"],
        "truncatedAlerts": row["truncated_alerts"], "alerts": [],
    }
