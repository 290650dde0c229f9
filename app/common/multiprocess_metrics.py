"""prometheus_client in gunicorn's multiprocess mode, done the documented way.

Every worker writes its samples to mmapped files in PROMETHEUS_MULTIPROC_DIR;
`/metrics` merges them per scrape. Three additions keep the scrape cheap and
the counts exact across worker restarts:

* `compact_dead_worker(pid)` (called by gunicorn's master in `child_exit`)
  folds a dead worker's counter and histogram files into one archive file
  per type, so the number of files stays bounded however often workers die.
* Compaction and scrapes take a lock on the same file, so a scrape never sees
  a dead worker's samples twice or not at all (a counter must never dip).
* `render_metrics()` does what prometheus_client's `MultiProcessCollector` +
  `generate_latest` do (`render_stock`), byte for byte, but remembers between
  scrapes what never changes (multiprocess_render.py): several times cheaper.
"""
import contextlib
import fcntl
import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from app.common import multiprocess_render

ACCUMULATING_TYPES = ("counter", "histogram")
LOCK_FILE = ".compaction.lock"


def multiprocess_dir() -> str:
    """Return the multiprocess directory, or raise if the service was started wrongly."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        raise RuntimeError(
            "PROMETHEUS_MULTIPROC_DIR is not set. Start the service with "
            "`python -m app.serve NAME`, which sets and wipes it before gunicorn starts."
        )
    return path


@contextlib.contextmanager
def _locked(path: str, mode: int) -> Iterator[None]:
    """Hold an flock on the directory's lock file (shared for scrapes, exclusive to compact)."""
    with open(os.path.join(path, LOCK_FILE), "a+") as lock:
        fcntl.flock(lock, mode)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def render_metrics(path: str | None = None) -> tuple[bytes, str]:
    """Merge every process's samples into one exposition: (body, content type)."""
    path = path or multiprocess_dir()
    with _locked(path, fcntl.LOCK_SH):
        try:
            with multiprocess_render.LAYOUTS_LOCK:
                body = multiprocess_render.render_fast(path)
        except multiprocess_render.Unusual:
            body = render_stock(path)
    return body, CONTENT_TYPE_LATEST


def render_stock(path: str) -> bytes:
    """The documented way: a fresh registry with a MultiProcessCollector (the reference the fast path matches).

    The caller holds the lock, as `render_metrics` does.
    """
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def compact_dead_worker(pid: int, path: str | None = None) -> None:
    """Drop a dead worker's live gauges and fold its counters/histograms into archives."""
    path = path or multiprocess_dir()
    with _locked(path, fcntl.LOCK_EX):
        mark_process_dead(pid, path)
        for kind in ACCUMULATING_TYPES:
            dead_file = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead_file):
                continue
            archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))
            try:
                for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(dead_file):
                    current, _ = archive.read_value(key)
                    archive.write_value(key, current + value, timestamp)
            finally:
                archive.close()
            os.remove(dead_file)


def wipe(path: str) -> None:
    """Empty the multiprocess directory before gunicorn starts (stale files would be counted).

    The directory may sit in a shared temp dir, where another user can plant
    it first, or plant a symlink to a directory of ours: a symlink, a directory
    owned by someone else, or one others may write to is refused, never
    emptied. Entries are removed through the opened directory, never through
    a path that could be swapped meanwhile, and a link inside is removed as a
    link (its target is left alone).
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        raise RuntimeError(f"The metrics directory {path} is a symlink or not a directory ({error.strerror}); "
                           "refusing to empty it.") from None
    try:
        info = os.fstat(descriptor)
        if info.st_uid != os.geteuid():
            raise RuntimeError(f"The metrics directory {path} belongs to uid {info.st_uid}, not to this user; "
                               "refusing to empty it. Set PROMETHEUS_MULTIPROC_DIR to a directory of your own.")
        if info.st_mode & 0o002:
            raise RuntimeError(f"The metrics directory {path} is writable by other users "
                               f"(mode {oct(info.st_mode & 0o777)}); refusing to use it.")
        for entry in os.scandir(descriptor):
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.name, dir_fd=descriptor)
    finally:
        os.close(descriptor)
