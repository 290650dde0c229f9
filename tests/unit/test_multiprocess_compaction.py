"""Compaction of dead gunicorn workers' metric files (app/common/multiprocess_metrics.py), in-process.

A dead worker's counters, histograms and summaries must be *added* to the
archive (never overwrite it), every accumulating type must be compacted (its
file removed), and the rendered totals must equal what the workers counted,
before and after, to the last digit (tests/unit/test_multiprocess_exact_sums.py
tries many orders of compaction).
"""
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from app.common.multiprocess_metrics import compact_dead_worker, render_metrics, render_stock

HELP = "What a test worker counted."
BUCKETS = ("0.1", "1.0", "+Inf")


def write_samples(directory, kind, pid, samples):
    """Write `samples` [(sample name, labels, value)] as worker `pid`'s file of type `kind`."""
    values = MmapedDict(str(directory / f"{kind}_{pid}.db"))
    try:
        for name, labels, value in samples:
            metric = name.removesuffix("_total") if kind == "counter" else name.rsplit("_", 1)[0]
            values.write_value(mmap_key(metric, name, list(labels), list(labels.values()), HELP), value, 0.0)
    finally:
        values.close()


def write_worker(directory, pid, requests, bucket_counts):
    """A worker that served `requests` requests and observed `bucket_counts` durations per bucket."""
    write_samples(directory, "counter", pid, [("test_requests_total", {"code": "200"}, requests)])
    buckets = [("test_duration_seconds_bucket", {"le": le}, count) for le, count in zip(BUCKETS, bucket_counts)]
    # Sums in quarters are exact in binary, so the order of additions cannot matter here (float sums
    # that depend on it are a separate concern: counters must never dip).
    write_samples(directory, "histogram", pid,
                  [*buckets, ("test_duration_seconds_sum", {}, sum(bucket_counts) * 0.25)])
    write_samples(directory, "summary", pid,
                  [("test_compute_seconds_count", {}, requests), ("test_compute_seconds_sum", {}, requests * 0.5)])


def rendered(directory, render=render_stock):
    """{(sample name, labels): value} of the multiprocess exposition of `directory` (stock by default)."""
    text = render(str(directory))
    text = (text[0] if isinstance(text, tuple) else text).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def workers(tmp_path):
    """Three workers' files: pid 101, 102 and 103 (a live one)."""
    write_worker(tmp_path, 101, 5, (1, 2, 0))
    write_worker(tmp_path, 102, 7, (3, 0, 1))
    write_worker(tmp_path, 103, 11, (0, 4, 4))
    return tmp_path


REQUESTS = ("test_requests_total", frozenset({("code", "200")}))
COUNT = ("test_duration_seconds_count", frozenset())
INF_BUCKET = ("test_duration_seconds_bucket", frozenset({("le", "+Inf")}))
SUMMARY_COUNT = ("test_compute_seconds_count", frozenset())


def test_compacting_dead_workers_adds_to_the_archive_and_keeps_totals_exact(workers):
    before = rendered(workers)
    assert before[REQUESTS] == 5 + 7 + 11 and before[COUNT] == 3 + 4 + 8
    compact_dead_worker(101, str(workers))
    compact_dead_worker(102, str(workers))  # the second must add to the first, not replace it
    after = rendered(workers)
    assert after[REQUESTS] == before[REQUESTS], "a dead worker's counter was lost or overwritten in compaction"
    assert after[COUNT] == before[COUNT] and after[INF_BUCKET] == before[INF_BUCKET], (
        "a dead worker's histogram was lost or overwritten in compaction")
    assert after[SUMMARY_COUNT] == before[SUMMARY_COUNT] == 5 + 7 + 11, (
        "a dead worker's summary was lost or overwritten in compaction")
    assert after == before, "compaction changed a rendered sample"


@pytest.mark.parametrize("kind", ["counter", "histogram", "summary"])
def test_every_accumulating_type_is_folded_into_one_archive_file(workers, kind):
    compact_dead_worker(101, str(workers))
    compact_dead_worker(102, str(workers))
    files = sorted(path.name for path in workers.glob(f"{kind}_*.db"))
    assert files == [f"{kind}_103.db", f"{kind}_archive.db"], f"{kind} files after compacting two workers: {files}"


def test_compacting_a_worker_with_no_files_changes_nothing(workers):
    before = rendered(workers)
    compact_dead_worker(999, str(workers))
    assert rendered(workers) == before


REVENUE = ("shop_revenue_dollars_total", frozenset())


def test_compaction_keeps_float_totals_to_the_last_digit(tmp_path):
    """The issue's case: 0.1 + 0.2 + 0.3 over three workers must not turn into 0.6 as workers die (a reset)."""
    for pid, amount in ((1, 0.1), (2, 0.2), (3, 0.3)):
        write_samples(tmp_path, "counter", pid, [("shop_revenue_dollars_total", {}, amount)])
    totals = [rendered(tmp_path, render_metrics)[REVENUE]]
    for pid in (1, 2, 3):
        compact_dead_worker(pid, str(tmp_path))
        totals.append(rendered(tmp_path, render_metrics)[REVENUE])
    # The correctly rounded sum of 0.1, 0.2 and 0.3 as floats, before and after every compaction.
    assert totals == [0.6] * 4, f"revenue as workers were compacted: {totals}"


def test_a_dead_workers_empty_file_is_removed_without_failing(workers):
    """A worker that died while creating its file leaves 0 bytes: nothing to add, and no struct.error."""
    (workers / "counter_104.db").write_bytes(b"")
    before = rendered(workers, render_metrics)
    compact_dead_worker(104, str(workers))
    assert not (workers / "counter_104.db").exists()
    assert rendered(workers, render_metrics) == before
