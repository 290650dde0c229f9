"""Setting up a SQLite file that several gunicorn workers open at the same moment.

Every worker builds its app (schema, WAL mode) as it boots. Switching a fresh
file to WAL mode needs an exclusive lock that SQLite does not wait for: no busy
handler runs, the loser gets "database is locked" at once (seen in 1 of 4
starts of four workers on a fresh file). A worker whose app fails to build
exits with gunicorn's boot-error code, and the master then stops the whole
service: a healthy-looking start, then connection refused (issue 14's CI run).
So the setup runs under an exclusive lock on a file beside the database, one
worker after the other; WAL mode is a property of the file, set once here.
"""
import contextlib
import fcntl
import os
from collections.abc import Iterator


@contextlib.contextmanager
def exclusive_setup(database_path: str) -> Iterator[None]:
    """Hold an exclusive lock on `<database>.setup-lock` for the duration of the block."""
    os.makedirs(os.path.dirname(database_path) or ".", exist_ok=True)
    with open(database_path + ".setup-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the worker dies
        yield
