"""Record an observation, and keep it as its bucket's exemplar when the request is sampled.

    exemplars.observe(REQUEST_DURATION, (route, method, code), elapsed, sampled_trace_id())

observes `elapsed` as `REQUEST_DURATION.labels(...).observe(elapsed)` would, and, when a trace id
is given, writes (elapsed, now, trace id) as the exemplar of the bucket `elapsed` falls into
(the lowest bound at or above it, as prometheus_client does for exemplars) in this worker's
exemplar file (exemplar_files.py). The scrape merges the workers' files and shows the exemplars
in the OpenMetrics format only (multiprocess_render.py).

The trace id is the caller's decision: `sampled_trace_id()` gives the current span's trace id
when it is sampled (tracing.py; with tracing off, the incoming W3C `traceparent`'s when its
sampled flag is set). No trace id, no exemplar.
"""
import math
import os
import re
import threading
import time

from flask import has_request_context, request
from prometheus_client import Histogram
from prometheus_client.utils import floatToGoString

from app.common import exemplar_files, tracing

TRACEPARENT_HEADER = "traceparent"
# W3C Trace Context, version 00: version-traceid-parentid-flags, lowercase hex.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_INVALID_TRACE_ID = "0" * 32
_writer_lock = threading.Lock()
_writer: exemplar_files.ExemplarFile | None = None
_writer_owner: tuple[int, str] | None = None  # (pid, directory) the writer was opened for


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace id of a W3C `traceparent` whose sampled flag is set, else None (absent, invalid, not sampled)."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _INVALID_TRACE_ID or parent_id == "0" * 16:
        return None
    return trace_id if int(flags, 16) & 1 else None


def sampled_trace_id() -> str | None:
    """The trace id of the current span if it is sampled; outside any span, the request's sampled `traceparent`'s.

    Requests run in their server span's context (request_spans.py), or with tracing off in the caller's.
    """
    if tracing.current_ids():
        return tracing.sampled_trace_id()
    if not has_request_context():
        return None
    return trace_id_from_traceparent(request.headers.get(TRACEPARENT_HEADER))


def bucket_bound(upper_bounds: list[float], value: float) -> float:
    """The bound of the bucket `value` is counted in first (the lowest at or above it)."""
    for bound in upper_bounds:
        if value <= bound:
            return bound
    return math.inf


def _file() -> exemplar_files.ExemplarFile | None:
    """This process's exemplar file, opened after fork (a forked child opens its own)."""
    global _writer, _writer_owner
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        return None
    owner = (os.getpid(), path)
    if _writer_owner != owner:
        with _writer_lock:
            if _writer_owner != owner:
                _writer = exemplar_files.ExemplarFile(os.path.join(path, exemplar_files.file_name(owner[0])))
                _writer_owner = owner
    return _writer


def observe(histogram: Histogram, labelvalues: tuple[str, ...], value: float, trace_id: str | None) -> None:
    """Observe `value` in the histogram's series; with a sampled trace id, keep it as its bucket's exemplar."""
    histogram.labels(*labelvalues).observe(value)
    if trace_id is None:
        return
    # The metric's name, label names and bounds: prometheus_client's own attributes (the version is pinned).
    bound = bucket_bound(histogram._upper_bounds, value)  # noqa: SLF001
    labels = dict(zip(histogram._labelnames, labelvalues, strict=True))  # noqa: SLF001
    key = exemplar_files.entry_key(histogram._name, labels, floatToGoString(bound))  # noqa: SLF001
    try:
        writer = _file()
        if writer is not None:
            writer.write(key, value, time.time(), bytes.fromhex(trace_id))
    except OSError:
        pass  # a full or unwritable directory: the request goes on without its exemplar (the count is kept)
