"""Files /metrics must survive (app/common/multiprocess_render.py): half-created, oddly named, odd bounds.

Each case renders through `render_metrics` (the fast path, with its fallback to
the stock code) and compares with prometheus_client's own collector wherever
that one gives an answer.
"""

from prometheus_client.mmap_dict import MmapedDict

from app.common import multiprocess_metrics
from app.common.multiprocess_metrics import render_metrics
from tests.helpers.metrics_files import stock_render, write


def counter(value):
    return [(("t_requests", "t_requests_total", [], [], "Requests."), value)]


def test_a_new_workers_file_still_empty_is_skipped(tmp_path):
    """A worker creates its file empty, then sizes it: a scrape in between must not fail (struct.error)."""
    write(tmp_path, "counter_1.db", counter(3.0))
    expected = stock_render(tmp_path)
    for size in (0, 4, 7):  # nothing yet, or less than the 8-byte header
        (tmp_path / "counter_2.db").write_bytes(b"\0" * size)
        assert render_metrics(str(tmp_path))[0] == expected, f"a {size}-byte file changed the scrape"
        # The fallback skips it too (the stock collector alone would fail on it).
        assert multiprocess_metrics.render_stock(str(tmp_path)) == expected


def test_zero_and_negative_zero_bounds_are_one_bucket(tmp_path):
    """`le="-0.0"` and `le="0.0"` are the same bound: one line, as the stock collector merges them."""
    for pid, bound in ((1, "-0.0"), (2, "0.0")):
        write(tmp_path, f"histogram_{pid}.db", [
            (("t_delta", "t_delta_bucket", ["le"], [bound], "Delta."), 1.0),
            (("t_delta", "t_delta_bucket", ["le"], ["+Inf"], "Delta."), 2.0),
            (("t_delta", "t_delta_sum", [], [], "Delta."), 0.5),
        ])
    ours = render_metrics(str(tmp_path))[0]
    assert ours == stock_render(tmp_path)
    zero_lines = [line for line in ours.decode().splitlines() if line.startswith("t_delta_bucket{le=\"") and
                  "Inf" not in line]
    assert len(zero_lines) == 1 and zero_lines[0].endswith(" 2.0"), zero_lines


def test_a_gauge_file_named_without_a_pid_falls_back_to_stock(tmp_path):
    """`gauge_livesum.db` (no pid in the name) is left to the stock code, not an IndexError."""
    write(tmp_path, "counter_1.db", counter(3.0))
    MmapedDict(str(tmp_path / "gauge_livesum.db")).close()  # a valid file with no entries
    assert render_metrics(str(tmp_path))[0] == stock_render(tmp_path)
