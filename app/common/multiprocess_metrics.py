"""prometheus_client in gunicorn's multiprocess mode, done the documented way.

Every worker writes its samples to mmapped files in PROMETHEUS_MULTIPROC_DIR;
`/metrics` merges them per scrape. Three additions keep the scrape cheap and
the counts exact across worker restarts:

* `compact_dead_worker(pid)` (called by gunicorn's master in `child_exit`)
  folds a dead worker's counter, histogram and summary files into archive
  files, so the number of files stays bounded however often workers die. The
  archive holds the *exact* sum of the dead workers' values, as a few floats
  whose exact sum it is (`{kind}_archive.db`, then `{kind}_archive_1.db`, ...
  for what the first cannot hold), and the renderer sums every file exactly
  (multiprocess_render.py): so a rendered total is the correctly rounded sum of
  everything every worker counted, whichever workers were compacted and in
  which order. A plain float archive would round at each compaction, and a
  total would drop by a last digit (0.6000000000000001 to 0.6), which
  Prometheus reads as a counter reset.
* Compaction and scrapes take a lock on the same file, so a scrape never sees
  a dead worker's samples twice or not at all (a counter must never dip). A
  waiting compaction goes first: a gate file stops new scrapes from taking the
  lock while one waits, or continuous scrapes would hold gunicorn's master in
  `child_exit` (53 s was seen).
* `render_metrics()` does what prometheus_client's `MultiProcessCollector` +
  `generate_latest` do (`render_stock`), byte for byte wherever float sums do
  not round, but remembers between scrapes what never changes
  (multiprocess_render.py): several times cheaper.
"""
import contextlib
import fcntl
import glob
import json
import math
import os
from collections.abc import Iterator
from fractions import Fraction

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Metric, generate_latest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.samples import Exemplar

from app.common import exemplar_files, multiprocess_render

ACCUMULATING_TYPES = ("counter", "histogram", "summary")
LOCK_FILE = ".compaction.lock"
GATE_FILE = ".compaction.gate"
OPENMETRICS_CONTENT_TYPE = openmetrics_exposition.CONTENT_TYPE_LATEST


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
    """Hold the directory's lock: shared for scrapes, exclusive to compact, a waiting compaction first.

    flock alone would keep granting shared locks while an exclusive one waits.
    So both sides pass the gate first (exclusively, and scrapes only for as
    long as taking their shared lock takes): a compaction keeps the gate while
    it waits for the scrapes in flight, and new scrapes queue behind it.
    """
    with open(os.path.join(path, GATE_FILE), "a+") as gate, open(os.path.join(path, LOCK_FILE), "a+") as lock:
        fcntl.flock(gate, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, mode)
        finally:
            if mode == fcntl.LOCK_SH:
                fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)  # a no-op for scrapes, which let it go already


def render_metrics(path: str | None = None, openmetrics: bool = False) -> tuple[bytes, str]:
    """Merge every process's samples into one exposition: (body, content type).

    The Prometheus text format by default; with `openmetrics`, the OpenMetrics text format with
    the histograms' exemplars (exemplar_files.py), which the Prometheus text format cannot carry.
    """
    path = path or multiprocess_dir()
    with _locked(path, fcntl.LOCK_SH):
        exemplars = exemplar_files.merge(exemplar_files.files(path)) if openmetrics else None
        try:
            with multiprocess_render.LAYOUTS_LOCK:
                body = multiprocess_render.render_fast(path, openmetrics, exemplars)
        except multiprocess_render.Unusual:
            body = render_stock(path, openmetrics, exemplars)
    return body, OPENMETRICS_CONTENT_TYPE if openmetrics else CONTENT_TYPE_LATEST


class _StockCollector(MultiProcessCollector):
    """The stock collector, minus files too new to hold a header (on which the stock one fails)."""

    def collect(self):
        # accumulate=True is merge()'s default, spelled out as the stock collect() does: equivalent if dropped.
        return self.merge(multiprocess_render.readable_files(self._path), accumulate=True)  # pragma: no mutate


class _WithExemplars:
    """The stock collector's families, each histogram bucket with its exemplar (when it has one)."""

    def __init__(self, path: str, exemplars: dict[bytes, tuple[float, float, bytes]]) -> None:
        self.collector = _StockCollector(None, path=path)
        self.exemplars = {}
        for key, (value, timestamp, trace_id) in exemplars.items():
            metric_name, labels, le = json.loads(key)
            bucket = (metric_name + "_bucket", tuple(sorted({**labels, "le": le}.items())))
            self.exemplars[bucket] = Exemplar({exemplar_files.LABEL: trace_id.hex()}, value, timestamp)

    def collect(self) -> Iterator[Metric]:
        for metric in self.collector.collect():
            if metric.type == "histogram":
                metric.samples = [
                    sample._replace(exemplar=self.exemplars.get((sample.name, tuple(sorted(sample.labels.items())))))
                    if sample.name.endswith("_bucket") else sample for sample in metric.samples]
            yield metric


def render_stock(path: str, openmetrics: bool = False, exemplars: dict | None = None) -> bytes:
    """The documented way: a fresh registry with a MultiProcessCollector (the reference the fast path matches).

    The caller holds the lock, as `render_metrics` does. Its float sums are
    the stock ones (in file order), not exact: only directories the fast path
    does not handle come here. With `openmetrics`, prometheus_client's
    OpenMetrics exposition of the same families, the exemplars on their buckets.
    """
    registry = CollectorRegistry()
    if not openmetrics:
        _StockCollector(registry, path=path)
        return generate_latest(registry)
    registry.register(_WithExemplars(path, exemplars or {}))
    return openmetrics_exposition.generate_latest(registry)


def exact_partials(values: list[float]) -> list[float]:
    """Floats whose exact sum is the exact sum of `values`, largest first (the first is the sum, rounded).

    The same exact sum always gives the same floats, whatever the values and
    their order. Infinities and NaN have no exact sum to keep: one float.
    """
    if not all(math.isfinite(value) for value in values):
        return [sum(values)]  # a NaN or an infinity decides the sum, whatever the start
    remainder = sum(map(Fraction, values))
    partials = []
    while True:
        try:
            partial = float(remainder)
        except OverflowError:  # beyond the largest float: as a float sum would, +-inf
            # (not copysign(inf, remainder): that converts the Fraction to float again, and overflows again)
            # remainder is beyond the largest float here, never 0 nor 1: `>= 0` or `> 1` are equivalent.
            return [math.inf if remainder > 0 else -math.inf]  # pragma: no mutate
        partials.append(partial)
        remainder -= Fraction(partial)
        if not remainder:  # terminates: every float is a multiple of 2**-1074
            return partials


def _archive_file(path: str, kind: str, index: int) -> str:
    return os.path.join(path, f"{kind}_archive.db" if index == 0 else f"{kind}_archive_{index}.db")


def _compact_file(path: str, kind: str, dead_file: str) -> None:
    """Add a dead worker's file of one kind to the kind's archive files, exactly."""
    count = 1 + len(glob.glob(os.path.join(path, f"{kind}_archive_*.db")))
    archives = [MmapedDict(_archive_file(path, kind, index)) for index in range(count)]
    try:
        held = [dict((key, value) for key, value, _ in archive.read_all_values()) for archive in archives]
        for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(dead_file):
            current = [values[key] for values in held if key in values]
            partials = exact_partials([*current, value])
            while len(archives) < len(partials):
                archives.append(MmapedDict(_archive_file(path, kind, len(archives))))
                held.append({})
            for index, archive in enumerate(archives):
                # `<=` would also write 0.0 into the next archive for this key: no sum changes (equivalent).
                if index < len(partials) or key in held[index]:  # pragma: no mutate
                    partial = partials[index] if index < len(partials) else 0.0
                    archive.write_value(key, partial, timestamp)
                    # Only the key's presence is read again: a file holds each key once (its value: equivalent).
                    held[index][key] = partial  # pragma: no mutate
    finally:
        for archive in archives:
            archive.close()


def compact_dead_worker(pid: int, path: str | None = None) -> None:
    """Drop a dead worker's live gauges and fold its counters/histograms/summaries (and exemplars) into archives."""
    path = path or multiprocess_dir()
    with _locked(path, fcntl.LOCK_EX):
        mark_process_dead(pid, path)
        for kind in ACCUMULATING_TYPES:
            dead_file = os.path.join(path, f"{kind}_{pid}.db")
            if not os.path.exists(dead_file):
                continue
            # Else it died creating it. At exactly the header size it holds no sample: compacting it adds
            # nothing, so `>` is equivalent.
            if os.path.getsize(dead_file) >= multiprocess_render.HEADER_SIZE:  # pragma: no mutate
                _compact_file(path, kind, dead_file)
            os.remove(dead_file)
        exemplar_files.compact(path, pid)


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
            # follow_symlinks=None would be falsy like False (equivalent); the tests remove links inside.
            if not entry.is_dir(follow_symlinks=False):  # pragma: no mutate
                os.unlink(entry.name, dir_fd=descriptor)
    finally:
        os.close(descriptor)
