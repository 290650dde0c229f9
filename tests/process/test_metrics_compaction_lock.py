"""Compaction is not starved by scrapes (app/common/multiprocess_metrics.py's lock).

Seen: under continuous scraping, flock kept granting the scrapes' shared locks
while the compaction's exclusive one waited, 53 s, with gunicorn's master stuck
in `child_exit` all that time (no worker replaced, no signal handled). Here
several scraper processes render /metrics back to back, their locks always
overlapping, while this test compacts dead workers: each compaction must finish
within a bound, and the scrapes must have gone on (they are only held up, never
stopped).
"""
import os
import sys
import threading
import time

from prometheus_client.mmap_dict import MmapedDict, mmap_key

from app.common.multiprocess_metrics import compact_dead_worker
from processes.managed import ManagedProcess
from processes.waiting import poll_until
from tests.helpers.paths import REPO

SCRAPERS = 8
LIVE_WORKERS = 60  # enough series that a render takes milliseconds: the scrapes' locks always overlap
SERIES = 300
DEAD_WORKERS = (901, 902, 903)
# A compaction waits for the scrapes in flight (a render each, milliseconds) and does its own work;
# 3 s leaves room for a loaded 2-core machine. Before the fix it waited until the scrapes stopped.
COMPACTION_BOUND_SECONDS = 3.0

# A scraper: renders /metrics in a loop, counting its renders in a file the test reads.
SCRAPER = """
import os, sys
from app.common.multiprocess_metrics import render_metrics
path, count_file = sys.argv[1], sys.argv[2]
renders = 0
while True:
    render_metrics(path)
    renders += 1
    if renders % 5 == 1:
        with open(count_file + ".tmp", "w") as out:
            out.write(str(renders))
        os.replace(count_file + ".tmp", count_file)
"""


def write_worker(path, pid):
    """A worker's counter file with SERIES series."""
    mmapped = MmapedDict(os.path.join(path, f"counter_{pid}.db"))
    for series in range(SERIES):
        mmapped.write_value(mmap_key("t_requests", "t_requests_total", ["route"], [f"/r{series}"], "Requests."),
                            1.0, 0.0)
    mmapped.close()


def renders(count_file):
    """How many renders a scraper has done (0 before its first report)."""
    try:
        with open(count_file) as counted:
            return int(counted.read() or 0)
    except FileNotFoundError:
        return 0


def test_compaction_finishes_within_a_bound_under_continuous_scrapes(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    for pid in range(1, LIVE_WORKERS + 1):
        write_worker(str(metrics_dir), pid)
    for pid in DEAD_WORKERS:
        write_worker(str(metrics_dir), pid)
    count_files = [str(tmp_path / f"scraper-{n}.count") for n in range(SCRAPERS)]
    scrapers = [ManagedProcess(f"scraper-{n}", [sys.executable, "-c", SCRAPER, str(metrics_dir), count_file],
                               dict(os.environ), str(tmp_path / f"scraper-{n}.log"), cwd=str(REPO))
                for n, count_file in enumerate(count_files)]
    try:
        for scraper in scrapers:
            scraper.start()
        poll_until(lambda: all(renders(f) > 1 for f in count_files) or any(not s.running() for s in scrapers),
                   "every scraper to render /metrics", timeout=30)
        assert all(s.running() for s in scrapers), "a scraper died:\n" + "".join(s.log_tail() for s in scrapers)
        for pid in DEAD_WORKERS:
            before = [renders(f) for f in count_files]
            # In a thread, so that a starved compaction fails the test instead of hanging it.
            compaction = threading.Thread(target=compact_dead_worker, args=(pid, str(metrics_dir)), daemon=True)
            started = time.monotonic()
            compaction.start()
            compaction.join(COMPACTION_BOUND_SECONDS)
            took = time.monotonic() - started
            assert not compaction.is_alive(), (f"compacting worker {pid} took more than {COMPACTION_BOUND_SECONDS} s "
                              f"under continuous scrapes (starved by their shared locks)")
            # The scrapes went on around it: every scraper rendered again since.
            poll_until(lambda b=before: all(renders(f) > n for f, n in zip(count_files, b)),
                       f"every scraper to render again after compacting worker {pid} ({took:.2f} s)", timeout=10)
        assert not any(os.path.exists(metrics_dir / f"counter_{pid}.db") for pid in DEAD_WORKERS)
    finally:
        for scraper in scrapers:
            scraper.stop()
