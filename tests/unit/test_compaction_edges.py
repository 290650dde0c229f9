"""Compaction at its edges (app/common/multiprocess_metrics.py): sums no float holds, live gauges, lone files.

exact_partials must give one float when there is no exact sum to keep (an
infinity, NaN, or a sum beyond the largest float); a dead worker's live
gauges must go with it; a worker that had only some kinds of file still has
each compacted; and an archive that needs more files numbers them `_1`, `_2`, so
the next compaction finds and adds to it.
"""
import math
import sys
from fractions import Fraction

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from app.common.multiprocess_metrics import compact_dead_worker, exact_partials, render_metrics

LARGEST = sys.float_info.max


@pytest.mark.parametrize("values, expected", [
    ([1.0, math.inf], [math.inf]),
    ([-math.inf, 2.5], [-math.inf]),
    ([LARGEST, LARGEST], [math.inf]),         # finite values whose sum no float holds: as a float sum, +inf
    ([-LARGEST, -LARGEST], [-math.inf]),
])
def test_a_sum_beyond_floats_is_one_signed_infinity(values, expected):
    assert exact_partials(values) == expected


@pytest.mark.parametrize("values", [[math.nan, 1.0], [math.inf, -math.inf]])
def test_a_sum_with_no_value_is_one_nan(values):
    partials = exact_partials(values)
    assert len(partials) == 1 and math.isnan(partials[0]), partials


def write(path, filename, key, value):
    """One sample in a file of prometheus_client's multiprocess format."""
    mmapped = MmapedDict(str(path / filename))
    mmapped.write_value(key, value, 0.0)
    mmapped.close()


def samples(path):
    """{sample name: value} as /metrics renders `path`."""
    text = render_metrics(str(path))[0].decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_dead_workers_live_gauges_go_with_it(tmp_path):
    key = mmap_key("t_in_progress", "t_in_progress", [], [], "In progress.")
    for pid in (1, 2):
        write(tmp_path, f"gauge_livesum_{pid}.db", key, 3.0)
    assert samples(tmp_path)["t_in_progress"] == 6.0
    compact_dead_worker(1, str(tmp_path))
    assert not (tmp_path / "gauge_livesum_1.db").exists(), "the dead worker's live gauge file is still there"
    assert samples(tmp_path)["t_in_progress"] == 3.0, "the dead worker still counts as in progress"


@pytest.mark.parametrize("kind, key, sample", [
    ("histogram", mmap_key("t_seconds", "t_seconds_sum", [], [], "Seconds."), "t_seconds_sum"),
    ("summary", mmap_key("t_compute", "t_compute_count", [], [], "Compute."), "t_compute_count"),
])
def test_a_worker_without_a_counter_file_has_its_other_files_compacted(tmp_path, kind, key, sample):
    write(tmp_path, f"{kind}_7.db", key, 4.0)
    compact_dead_worker(7, str(tmp_path))
    assert not (tmp_path / f"{kind}_7.db").exists(), f"the dead worker's {kind} file was not compacted"
    assert samples(tmp_path)[sample] == 4.0


def test_an_archive_too_small_for_the_exact_sum_grows_numbered_files_that_later_compactions_add_to(tmp_path):
    key = mmap_key("t_revenue", "t_revenue_total", [], [], "Revenue.")
    amounts = {1: 0.1, 2: 0.2, 3: 0.3, 4: 1e-30}
    for pid, amount in amounts.items():
        write(tmp_path, f"counter_{pid}.db", key, amount)
    for pid in amounts:
        compact_dead_worker(pid, str(tmp_path))
    names = sorted(path.name for path in tmp_path.glob("counter_*.db"))
    assert names == ["counter_archive.db", "counter_archive_1.db", "counter_archive_2.db"], (
        f"archive files, named for their index: {names}")
    held = [value for name in names for _, value, _, _ in MmapedDict.read_all_values_from_file(str(tmp_path / name))]
    exact = sum(map(Fraction, amounts.values()))
    assert sum(map(Fraction, held)) == exact, "the archive files do not hold the exact sum of what the workers counted"
    assert samples(tmp_path)["t_revenue_total"] == float(exact)


def test_a_sum_that_needs_fewer_archive_files_again_sets_the_extra_ones_to_zero(tmp_path):
    """1 + 2**-60 needs two archive files; adding -2**-60 makes it 1.0 exactly: the second must then hold 0.0."""
    key = mmap_key("t_revenue", "t_revenue_total", [], [], "Revenue.")
    for pid, amount in ((1, 1.0), (2, 2.0 ** -60)):
        write(tmp_path, f"counter_{pid}.db", key, amount)
        compact_dead_worker(pid, str(tmp_path))
    assert (tmp_path / "counter_archive_1.db").exists(), "1 + 2**-60 needs a second archive file"
    write(tmp_path, "counter_3.db", key, -(2.0 ** -60))
    compact_dead_worker(3, str(tmp_path))
    held = [value for name in ("counter_archive.db", "counter_archive_1.db")
            for _, value, _, _ in MmapedDict.read_all_values_from_file(str(tmp_path / name))]
    assert held == [1.0, 0.0], f"the archive files should hold 1.0 and 0.0 (the exact sum), not {held}"
    assert samples(tmp_path)["t_revenue_total"] == 1.0
