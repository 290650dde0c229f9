"""The stock collector's rules at their edges, which the fast render (app/common/multiprocess_render.py) must keep.

Each case writes real prometheus_client files in a tmp dir and compares
`render_metrics` (the fast path, with its fallback) with prometheus_client's
own collector: OpenMetrics-only samples, a corrupted file's header, signed
zeros and overflowing sums, gauge merge rules (all, mostrecent), files gone
between the directory listing and the read, and the layout cache.
"""
import os
import sys

import pytest

from app.common import multiprocess_render
from app.common.multiprocess_metrics import render_metrics
from app.common.multiprocess_render import Unusual, readable_files, render_fast
from tests.helpers.metrics_files import stock_render, write

LARGEST = sys.float_info.max


def jobs(value, name="t_jobs_total", help_text="Jobs."):
    return (("t_jobs", name, [], [], help_text), value)


def assert_as_stock(path, what):
    ours, theirs = render_metrics(str(path))[0], stock_render(path)
    assert ours == theirs, f"{what}: fast render\n{ours.decode()}\nstock\n{theirs.decode()}"
    return ours.decode()


@pytest.mark.parametrize("suffix", ["_created", "_gsum", "_gcount"])
def test_openmetrics_only_samples_get_a_family_of_their_own_as_stock_does(tmp_path, suffix):
    write(tmp_path, "counter_1.db", [jobs(3.0), jobs(5.0, name="t_jobs" + suffix)])
    text = assert_as_stock(tmp_path, f"a t_jobs{suffix} sample")
    assert f"# TYPE t_jobs{suffix} gauge" in text, f"generate_latest moves t_jobs{suffix} to a gauge family:\n{text}"


def test_unusual_names_what_the_fast_path_left_to_the_stock_code(tmp_path):
    """`Unusual` carries the sample, metric or file it could not handle: what whoever debugs a fallback needs."""
    cases = {
        "t_jobs_created": ("counter_1.db", [jobs(1.0, name="t_jobs_created")]),
        "t_gauge": ("gauge_livesum_1.db", [(("t_gauge", "t_gauge", ["pid"], ["9"], "Gauge."), 1.0)]),
        "t_seconds_bucket": ("histogram_1.db", [(("t_seconds", "t_seconds_bucket", ["le"], ["NaN"], "S."), 1.0)]),
        str(tmp_path / "gauge_livesum.db"): ("gauge_livesum.db", [(("t_gauge", "t_gauge", [], [], "Gauge."), 1.0)]),
    }
    for expected, (filename, entries) in cases.items():
        for old in tmp_path.iterdir():
            old.unlink()
        write(tmp_path, filename, entries)
        with pytest.raises(Unusual) as raised:
            render_fast(str(tmp_path))
        assert raised.value.args == (expected,), f"{filename}: Unusual{raised.value.args} does not name {expected}"
    for old in tmp_path.iterdir():
        old.unlink()
    write(tmp_path, "counter_1.db", [jobs(1.0)])
    write(tmp_path, "gauge_livesum_2.db", [(("t_jobs", "t_jobs", [], [], "Jobs."), 1.0)])
    with pytest.raises(Unusual) as raised:
        render_fast(str(tmp_path))
    assert raised.value.args == ("t_jobs",), f"a metric in two kinds of files: Unusual{raised.value.args}"


def entry_key_length(path):
    """The length of a one-entry file's key (the 4 bytes after the 8-byte header)."""
    return int.from_bytes(path.read_bytes()[8:12], sys.byteorder)


@pytest.mark.parametrize("cut", [0, 1])
def test_a_header_cutting_the_last_entry_is_read_or_refused_as_the_stock_reader_does(tmp_path, cut):
    """The stock reader refuses an entry only if its key's length runs past the used size (key start not counted).

    So a used size that ends exactly where the key would end still reads (cut 0), one byte less is corrupted
    (cut 1): the same RuntimeError, with the stock message, as the stock collector raises.
    """
    write(tmp_path, "counter_1.db", [jobs(3.0)])
    path = tmp_path / "counter_1.db"
    used = 8 + entry_key_length(path) - cut
    data = bytearray(path.read_bytes())
    data[0:4] = used.to_bytes(4, sys.byteorder)
    path.write_bytes(bytes(data))
    try:
        theirs = stock_render(tmp_path)
    except RuntimeError as error:
        with pytest.raises(RuntimeError) as raised:
            render_metrics(str(tmp_path))
        assert raised.value.args == error.args, f"a corrupted file: {raised.value.args}, stock {error.args}"
    else:
        assert cut == 0, "the stock reader read a file whose key runs past the used size"
        assert render_metrics(str(tmp_path))[0] == theirs, "a used size ending at the key's end: not read as stock"


@pytest.mark.parametrize("values, line", [
    ([-0.0], "t_jobs_total 0.0"),              # stock sums start at 0.0: 0.0 + -0.0 is 0.0
    ([-0.0, -0.0], "t_jobs_total 0.0"),
    ([LARGEST, LARGEST], "t_jobs_total +Inf"),  # beyond the largest float: stock's file-order sum
])
def test_signed_zeros_and_overflowing_sums_render_as_stock(tmp_path, values, line):
    for pid, value in enumerate(values):
        write(tmp_path, f"counter_{pid}.db", [jobs(value)])
    text = assert_as_stock(tmp_path, f"a counter summing {values}")
    assert line in text.splitlines(), f"summing {values} should give {line!r}:\n{text}"


def test_an_all_mode_gauge_keeps_the_last_value_of_a_repeated_series(tmp_path):
    """Two keys of one series in one file (the help text differs): stock keeps the later one, not the larger."""
    write(tmp_path, "gauge_all_1.db", [(("t_temp", "t_temp", [], [], "Temp."), 5.0),
                                       (("t_temp", "t_temp", [], [], "Temperature."), 3.0)])
    text = assert_as_stock(tmp_path, "a repeated series of an `all` gauge")
    assert 't_temp{pid="1"} 3.0' in text.splitlines(), text


def test_a_mostrecent_gauge_set_at_a_time_below_one_second_still_counts(tmp_path):
    """Only a never-set gauge (timestamp 0) is skipped; any later time wins, even 0.5."""
    write(tmp_path, "gauge_mostrecent_1.db", [(("t_last", "t_last", [], [], "Last."), 7.0, 0.5)])
    text = assert_as_stock(tmp_path, "a mostrecent gauge set at t=0.5")
    assert "t_last 7.0" in text.splitlines(), text


def test_a_live_gauge_file_gone_since_the_listing_is_skipped_and_the_rest_still_read(tmp_path):
    """A dead worker's live gauge file can go between the glob and the read: stock skips it and reads on."""
    for pid in range(1, 5):
        write(tmp_path, f"gauge_livesum_{pid}.db", [(("t_busy", "t_busy", [], [], "Busy."), 1.0)])
    first = readable_files(str(tmp_path))[0]
    os.remove(first)
    os.symlink(str(tmp_path / "gone"), first)  # listed, but opening it finds no file
    order = readable_files(str(tmp_path))
    assert first in order[:-1], f"the gone file must not be the last one read: {order}"
    text = assert_as_stock(tmp_path, "a live gauge file gone since the listing")
    assert "t_busy 3.0" in text.splitlines(), f"the other workers' live gauges must still count:\n{text}"


@pytest.mark.parametrize("filename", ["counter_2.db", "gauge_all_2.db"])
def test_any_other_file_gone_since_the_listing_fails_the_scrape_as_stock_does(tmp_path, filename):
    write(tmp_path, "counter_1.db", [jobs(1.0)])
    os.symlink(str(tmp_path / "gone"), str(tmp_path / filename))
    with pytest.raises(FileNotFoundError):
        stock_render(tmp_path)
    with pytest.raises(FileNotFoundError):
        render_metrics(str(tmp_path))


def test_an_unchanged_file_is_not_compiled_again_and_a_changed_one_is(tmp_path):
    """The point of the fast path: a file's layout is compiled once, while its keys stay the same."""
    write(tmp_path, "counter_1.db", [jobs(1.0)])
    path = str(tmp_path / "counter_1.db")
    render_fast(str(tmp_path))
    compiled = multiprocess_render._layouts[path]
    write(tmp_path, "counter_1.db", [jobs(2.0)])  # a new value, the same key
    assert "t_jobs_total 2.0" in render_fast(str(tmp_path)).decode().splitlines()
    assert multiprocess_render._layouts[path] is compiled, "an unchanged layout was compiled again"
    write(tmp_path, "counter_1.db", [(("t_jobs", "t_jobs_total", ["route"], ["/a"], "Jobs."), 1.0)])  # a new series
    assert render_fast(str(tmp_path)) == stock_render(tmp_path)
    assert multiprocess_render._layouts[path] is not compiled, "a file with a new series kept its old layout"


def test_a_grown_file_walks_only_its_new_entries(tmp_path, monkeypatch):
    """Files only grow: a new series appended to a file compiles that entry, not the file's others again."""
    first = jobs(1.0)
    second = (("t_jobs", "t_jobs_total", ["route"], ["/b"], "Jobs."), 4.0)
    write(tmp_path, "counter_1.db", [first])
    render_fast(str(tmp_path))
    planned = []
    plan = multiprocess_render._plan
    monkeypatch.setattr(multiprocess_render, "_plan", lambda key, *rest: planned.append(key) or plan(key, *rest))
    write(tmp_path, "counter_1.db", [first, second])  # the same first entry, one appended
    assert_as_stock(tmp_path, "a file with an appended series")
    assert len(planned) == 1 and b"/b" in planned[0], f"a grown file planned {planned}, not its new entry only"
    third = (("t_jobs", "t_jobs_total", ["route"], ["/c"], "Jobs."), 2.0)
    os.remove(tmp_path / "counter_1.db")  # another, longer file at that path (a reused pid): walked whole
    write(tmp_path, "counter_1.db", [second, first, third])
    planned.clear()
    assert_as_stock(tmp_path, "another file at the same path")
    assert len(planned) == 3, f"a file with other first entries must be walked whole, planned {planned}"


# Each value, added in this order from 0.0, rounds one way; from any other start (1.0) another: the last one
# takes a file-order sum from 0.0 to the largest float, and from 1.0 past it (inf). math.fsum overflows on them.
ROUNDING_CHAIN = [float.fromhex(f"0x1.fffffffffffffp+{exponent}") for exponent in range(53, 972, 54)] + [
    float.fromhex("0x1.fffffffffffffp+1022")]
ROUNDING_CHAIN.append(LARGEST - sum(ROUNDING_CHAIN[1:], ROUNDING_CHAIN[0]))


def test_a_sum_past_the_largest_float_is_stocks_file_order_sum_to_the_last_rounding(tmp_path):
    """No exact sum beyond the largest float: the stock one, in the files' order, from 0.0 as stock starts."""
    for pid in range(len(ROUNDING_CHAIN)):
        write(tmp_path, f"counter_{pid}.db", [jobs(0.0)])
    for filename, value in zip(readable_files(str(tmp_path)), ROUNDING_CHAIN):  # the values in the files' order
        write(tmp_path, os.path.basename(filename), [jobs(value)])
    text = assert_as_stock(tmp_path, "a sum past the largest float")
    assert f"t_jobs_total {LARGEST!r}" in text.splitlines(), f"the file-order sum from 0.0 is {LARGEST!r}:\n{text}"


@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_min_or_max_gauge_keeps_the_first_of_equal_values_as_stock_does(tmp_path, mode):
    """0.0 and -0.0 are equal: the first file's one stays (its sign shows in the exposition)."""
    for pid, value in ((1, 0.0), (2, -0.0)):
        write(tmp_path, f"gauge_{mode}_{pid}.db", [(("t_level", "t_level", [], [], "Level."), value)])
    first = readable_files(str(tmp_path))[0]
    text = assert_as_stock(tmp_path, f"a {mode} gauge at 0.0 and -0.0")
    expected = "t_level 0.0" if first.endswith("_1.db") else "t_level -0.0"
    assert expected in text.splitlines(), f"the first file's zero should stay:\n{text}"


def test_histogram_buckets_without_a_sum_or_count_render_as_stock(tmp_path):
    write(tmp_path, "histogram_1.db", [(("t_size", "t_size_bucket", ["le"], ["1.0"], "Size."), 2.0),
                                       (("t_size", "t_size_bucket", ["le"], ["+Inf"], "Size."), 3.0)])
    text = assert_as_stock(tmp_path, "a histogram of buckets only")
    assert "t_size_count 5.0" in text.splitlines(), f"the +Inf bucket's cumulative total is the count:\n{text}"


def test_a_kept_program_renders_new_values_as_stock_in_every_merge_rule(tmp_path):
    """While no file changes its layout, a scrape reuses the merge compiled before and reads only the new values:
    sums, min, max, last, mostrecent (whose lines come and go with the values) and histogram buckets alike."""
    def files(value, stamp):
        bucket = ("t_seconds", "t_seconds_bucket", ["le", "route"])
        for pid in (1, 2):
            write(tmp_path, f"counter_{pid}.db", [jobs(value * pid)])
            write(tmp_path, f"histogram_{pid}.db", [
                ((*bucket, ["0.1", "/a"], "S."), value), ((*bucket, ["+Inf", "/a"], "S."), 2.0),
                (("t_seconds", "t_seconds_sum", ["route"], ["/a"], "S."), value * 0.1)])
            for mode in ("min", "max", "all", "livesum"):
                write(tmp_path, f"gauge_{mode}_{pid}.db", [((f"t_{mode}", f"t_{mode}", [], [], "G."), value - pid)])
            write(tmp_path, f"gauge_mostrecent_{pid}.db", [(("t_last", "t_last", ["k"], [str(pid)], "L."),
                                                            value + pid, stamp * pid)])
    files(1.0, 0.0)  # no mostrecent gauge set yet: no line of it
    assert "t_last{" not in assert_as_stock(tmp_path, "before any mostrecent gauge is set")
    program = multiprocess_render._program
    for value, stamp in [(3.0, 5.0), (-0.0, 7.0), (2.5, 0.0)]:
        files(value, stamp)
        assert_as_stock(tmp_path, f"values {value}, set at {stamp}")
        assert multiprocess_render._program is program, "a scrape with the same layouts compiled its merge again"
    assert render_metrics(str(tmp_path), openmetrics=True)[0].endswith(b"# EOF\n")
