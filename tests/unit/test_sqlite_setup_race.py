"""Workers that boot at the same moment all set up the same fresh SQLite file without an error.

gunicorn boots every worker at once, and each builds its app (WAL mode, schema).
Before `app.common.sqlite_setup`, about 1 start in 4 of four workers on a fresh
file lost the WAL switch with "database is locked" (SQLite does not wait for
that lock); the worker exited and gunicorn's master stopped the whole service:
the CI failure "targets not up: payments (connection refused)".
"""
import multiprocessing
import os
import traceback

import pytest

from app.inbox.db import Store
from app.payments import db as payments_db
from app.shop import db as shop_db

WORKERS = 4
ROUNDS = 25  # the old code failed at least one round in 25 with probability ~1 - 0.75**25 > 0.999


def set_up_payments(directory):
    payments_db.init_db(os.path.join(directory, "payments.sqlite3"))


def set_up_shop(directory):
    shop_db.init_db(os.path.join(directory, "shop.sqlite3"))


def set_up_inbox(directory):
    Store(directory)


def boot_together(set_up, directory, start):
    """One worker: wait for the others, set up; a failure is written down and ends the process with 1."""
    start.wait()
    try:
        set_up(directory)
    except Exception:  # noqa: BLE001 - the parent reports whatever a worker hit
        with open(os.path.join(directory, f"error-{os.getpid()}.txt"), "w") as out:
            out.write(traceback.format_exc())
        os._exit(1)


@pytest.mark.parametrize("set_up", [set_up_payments, set_up_shop, set_up_inbox], ids=["payments", "shop", "inbox"])
def test_workers_booting_together_all_set_up_a_fresh_database(tmp_path, set_up):
    context = multiprocessing.get_context("fork")  # as gunicorn's workers are made
    for round_ in range(ROUNDS):
        directory = tmp_path / f"round-{round_}"
        directory.mkdir()
        start = context.Barrier(WORKERS)
        workers = [context.Process(target=boot_together, args=(set_up, str(directory), start))
                   for _ in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
                pytest.fail(f"a worker's database setup hung for 30 s (round {round_})")
        failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
        reports = [path.read_text() for path in directory.glob("error-*.txt")]
        assert not failed, (f"round {round_}: {len(failed)} of {WORKERS} workers failed to set up a fresh "
                            f"database (exit codes {failed}):\n" + "\n".join(reports))
