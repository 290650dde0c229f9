"""The fast `/metrics` render says exactly what prometheus_client's stock merge says.

`render_metrics()` (app/common/multiprocess_metrics.py, via multiprocess_render.py) caches each file's layout
between scrapes and writes the exposition itself. These tests build multiprocess
directories with several processes' worth of the metric kinds our services use
(counters, histograms, summaries, gauges in every multiprocess_mode), change them
between renders the ways production does (new series, dead workers compacted, a
new worker reusing a dead one's pid), and compare every render with a fresh
stock MultiProcessCollector + generate_latest on the same files. Every worker also
keeps exemplars of sampled requests in its exemplar file (app/common/exemplar_files.py):
the text format must not change for them, and the OpenMetrics render must be
prometheus_client's OpenMetrics exposition of the stock merge with those exemplars.

Byte for byte on values whose float sums do not round (counts, and observations
in multiples of 1/1024): there exact summation and stock's file-order summation
give the same number. Our sums are exact on purpose (multiprocess_render.py's
docstring says why), so on arbitrary floats a sum's last digit may differ from
stock; `test_arbitrary_floats_differ_from_stock_only_in_exact_sums` checks that
every such line is the exact sum and everything else is the stock bytes.
"""
import contextlib
import glob
import json
import math
import os
import random

import pytest
from prometheus_client import Counter, Gauge, Histogram, Summary, values
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from app.common import exemplar_files, exemplars, multiprocess_metrics
from app.common.http_metrics import LATENCY_BUCKETS
from app.common.multiprocess_metrics import compact_dead_worker, render_metrics
from app.shop.metrics import ORDER_VALUE_BUCKETS
from tests.helpers.metrics_files import stock_openmetrics_render, stock_render

ROUTES = ("/api/products", "/api/products/<int:product_id>", "/api/carts", "<unmatched>")
# Label values that need escaping in the text format, and one that is not ASCII.
ODD_VALUES = ('say "hi"', "back\\slash", "new\nline", "ünïcode")


@pytest.fixture(autouse=True)
def stock_fallbacks(monkeypatch):
    """Count the renders left to the stock code (the fast path must do the usual cases itself)."""
    calls = []
    real = multiprocess_metrics.render_stock
    monkeypatch.setattr(multiprocess_metrics, "render_stock",
                        lambda path, *args: calls.append(path) or real(path, *args))
    yield calls


def parsed(body):
    """Every family and sample of an exposition, in a comparable form (NaN equal to NaN)."""
    families = list(text_string_to_metric_families(body.decode("utf-8")))
    return sorted((family.name, family.type, family.documentation, sample.name,
                   tuple(sorted(sample.labels.items())),
                   "NaN" if math.isnan(sample.value) else sample.value)
                  for family in families for sample in family.samples)


def stock_exemplars(path):
    """The exemplar files' latest exemplar per bucket, keyed as stock_openmetrics_render wants them."""
    found = {}
    for key, (value, timestamp, trace_id) in exemplar_files.merge(exemplar_files.files(str(path))).items():
        metric_name, labels, le = json.loads(key)
        found[(metric_name + "_bucket", tuple(sorted({**labels, "le": le}.items())))] = (value, timestamp,
                                                                                           trace_id.hex())
    return found


def assert_same_as_stock(path):
    """The fast render, parsed, equals the stock one; in fact the bytes are the same.

    Also in OpenMetrics: the bytes of prometheus_client's OpenMetrics exposition of the stock merge, with each
    bucket's exemplar set on it (and prometheus_client's OpenMetrics parser reads them).
    """
    ours, content_type = render_metrics(path=str(path))
    theirs = stock_render(path)
    assert content_type.startswith("text/plain")
    assert parsed(ours) == parsed(theirs)
    assert ours == theirs
    ours_openmetrics, content_type = render_metrics(path=str(path), openmetrics=True)
    assert content_type.startswith("application/openmetrics-text")
    assert ours_openmetrics == stock_openmetrics_render(path, stock_exemplars(path))
    list(openmetrics_families(ours_openmetrics.decode("utf-8")))
    return parsed(ours)


@contextlib.contextmanager
def process(monkeypatch, path, pid):
    """Metrics created inside write to `path` as if process `pid` had created them."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
    with monkeypatch.context() as patch:
        patch.setattr(values, "ValueClass", values.MultiProcessValue(process_identifier=lambda: pid))
        yield


def worker_traffic(monkeypatch, path, pid, requests=200, extra_routes=(), binary_exact=True, sampled=0.3):
    """One worker's metrics, shaped like the shop's (app/shop/metrics.py), after some random traffic.

    With `binary_exact`, every observed value is a multiple of 1/1024, so no float sum of them
    rounds and any order of summing gives the same number (the byte-for-byte comparisons).
    """
    rng = random.Random(pid)
    # The exemplars of sampled requests, in the worker's exemplar file, as exemplars.observe writes them.
    exemplar_writer = exemplar_files.ExemplarFile(str(path / exemplar_files.file_name(pid)))

    def amount(value):
        return round(value * 1024) / 1024 if binary_exact else value
    with process(monkeypatch, path, pid):
        duration = Histogram("t_http_request_duration_seconds", "Request time.", ["route", "method", "code"],
                             buckets=LATENCY_BUCKETS, registry=None)
        order_value = Histogram("t_order_value_dollars", "Order value.", buckets=ORDER_VALUE_BUCKETS,
                                registry=None)
        compute = Summary("t_compute_seconds", "Compute time.", ["task"], registry=None)
        orders = Counter("t_orders", "Orders committed.", registry=None)
        checkouts = Counter("t_checkouts", "Checkouts by outcome.", ["outcome"], registry=None)
        odd = Counter("t_odd", 'Help with a back\\slash,\na newline and "quotes".', ["value"], registry=None)
        for outcome in ("placed", "declined", "error"):
            checkouts.labels(outcome)  # created at zero, like the services' initialise()
        duration.labels("/healthz", "GET", "200")  # created, never observed
        for _ in range(requests):
            route = rng.choice(ROUTES + tuple(extra_routes))
            labels = (route, rng.choice(("GET", "POST")), rng.choice(("200", "404", "500")))
            observed = amount(rng.expovariate(20))
            duration.labels(*labels).observe(observed)
            if rng.random() < sampled:
                bound = floatToGoString(exemplars.bucket_bound(duration._upper_bounds, observed))
                key = exemplar_files.entry_key(duration._name, dict(zip(duration._labelnames, labels)), bound)
                exemplar_writer.write(key, observed, rng.uniform(1e9, 2e9), rng.randbytes(16))
            if rng.random() < 0.2:
                orders.inc()
                checkouts.labels("placed").inc()
                order_value.observe(amount(rng.uniform(5, 3000)))
            if rng.random() < 0.1:
                compute.labels("render").observe(amount(rng.random() / 10))
            if rng.random() < 0.05:
                odd.labels(rng.choice(ODD_VALUES)).inc(amount(rng.choice((1, 0.1, 1234567.5))))
        # Every gauge mode (the app uses livesum, livemax, liveall and livemostrecent).
        for mode in sorted(Gauge._MULTIPROC_MODES):
            gauge = Gauge(f"t_gauge_{mode}", f"A {mode} gauge.", ["fault"], multiprocess_mode=mode, registry=None)
            gauge.labels("slow").set(rng.choice((0, 1, -2.5, 1e9, float("inf"))))
            gauge.labels("errors").set(rng.randint(0, 3))
            gauge.labels("never_set")  # a mostrecent gauge never set has no sample at all
    exemplar_writer.close()
    return duration


def test_render_matches_stock_for_several_workers(monkeypatch, tmp_path, stock_fallbacks):
    for pid in (101, 102, 103, 104):
        worker_traffic(monkeypatch, tmp_path, pid)
    assert_same_as_stock(tmp_path)
    # Again, now from the cached layouts, after more traffic.
    worker_traffic(monkeypatch, tmp_path, 102, requests=50)
    assert_same_as_stock(tmp_path)
    assert stock_fallbacks == []


def test_render_follows_new_series_dead_workers_and_new_workers(monkeypatch, tmp_path, stock_fallbacks):
    for pid in (101, 102):
        worker_traffic(monkeypatch, tmp_path, pid)
    before = assert_same_as_stock(tmp_path)
    # A worker dies: its counters and histograms move to the archives, its live gauges go.
    compact_dead_worker(101, path=str(tmp_path))
    after = assert_same_as_stock(tmp_path)
    # A counter never dips: every _total and histogram _count is at least what it was.
    was = {(name, labels): value for _f, kind, _d, name, labels, value in before
           if kind in ("counter", "histogram") and name.endswith(("_total", "_count"))}
    now = {(name, labels): value for _f, _k, _d, name, labels, value in after}
    assert was and all(now[key] >= value for key, value in was.items())
    # New routes (new series appended to existing files) and a replacement worker.
    worker_traffic(monkeypatch, tmp_path, 102, requests=100, extra_routes=("/api/orders/<int:order_id>",))
    worker_traffic(monkeypatch, tmp_path, 105)
    assert_same_as_stock(tmp_path)
    compact_dead_worker(102, path=str(tmp_path))
    compact_dead_worker(105, path=str(tmp_path))
    assert_same_as_stock(tmp_path)
    # Every worker sampled requests: their exemplars are in the archive now, and in the OpenMetrics render.
    assert exemplar_files.files(str(tmp_path)) == [str(tmp_path / exemplar_files.ARCHIVE)]
    assert b" # {trace_id=" in render_metrics(path=str(tmp_path), openmetrics=True)[0]
    assert stock_fallbacks == []


def test_new_worker_reusing_a_dead_workers_pid(monkeypatch, tmp_path, stock_fallbacks):
    """Same file name and size, different series: the cached layout must not be reused."""
    with process(monkeypatch, tmp_path, 200):
        Counter("t_requests", "Requests.", ["route"], registry=None).labels("aaaa").inc(1)
    first = assert_same_as_stock(tmp_path)
    compact_dead_worker(200, path=str(tmp_path))
    with process(monkeypatch, tmp_path, 200):
        Counter("t_requests", "Requests.", ["route"], registry=None).labels("bbbb").inc(5)
    assert os.path.getsize(tmp_path / "counter_200.db") == os.path.getsize(tmp_path / "counter_archive.db")
    second = assert_same_as_stock(tmp_path)
    assert ("t_requests_total", (("route", "aaaa"),), 1.0) in [(s[3], s[4], s[5]) for s in second]
    assert ("t_requests_total", (("route", "bbbb"),), 5.0) in [(s[3], s[4], s[5]) for s in second]
    assert first != second
    assert stock_fallbacks == []


@pytest.mark.parametrize("case", ["name_needing_escaping", "label_needing_escaping", "one_metric_two_types",
                                  "gauge_with_pid_label"])
def test_unusual_files_render_as_stock_does(tmp_path, case, stock_fallbacks):
    """What the fast path does not cover is left to the stock code, with the same result."""
    def write(filename, key_parts, value, timestamp=0.0):
        mmapped = MmapedDict(str(tmp_path / filename))
        mmapped.write_value(mmap_key(*key_parts), value, timestamp)
        mmapped.close()

    write("counter_1.db", ("t_plain", "t_plain_total", [], [], "Plain."), 3.0)
    if case == "name_needing_escaping":
        write("counter_2.db", ("t.dotted", "t.dotted_total", [], [], "Dotted."), 2.0)
    elif case == "label_needing_escaping":
        write("counter_2.db", ("t_odd", "t_odd_total", ["odd-label"], ["x"], "Odd label."), 2.0)
    elif case == "one_metric_two_types":
        write("gauge_livesum_2.db", ("t_plain", "t_plain", [], [], "Plain."), 7.0)
    else:
        write("gauge_livesum_2.db", ("t_gauge", "t_gauge", ["pid"], ["9"], "Gauge."), 7.0)
    assert_same_as_stock(tmp_path)
    assert stock_fallbacks == [str(tmp_path)] * 2  # the text format and OpenMetrics


def test_hand_written_histogram_buckets_out_of_order(tmp_path, stock_fallbacks):
    """Buckets merge by their bound as a number and cumulate in its order, whatever the file's order."""
    for pid, spellings in ((1, ("+Inf", "1.0", "0.5")), (2, ("1", "+Inf", "0.5"))):
        mmapped = MmapedDict(str(tmp_path / f"histogram_{pid}.db"))
        for le in spellings:
            key = mmap_key("t_hist", "t_hist_bucket", ["route", "le"], ["/", le], "Hist.")
            mmapped.write_value(key, pid * {"0.5": 1, "1": 2, "1.0": 2, "+Inf": 3}[le], 0.0)
        mmapped.write_value(mmap_key("t_hist", "t_hist_sum", ["route"], ["/"], "Hist."), 4.5, 0.0)
        mmapped.close()
    samples = assert_same_as_stock(tmp_path)
    buckets = {labels: value for *_, name, labels, value in samples if name == "t_hist_bucket"}
    assert buckets == {(("le", "0.5"), ("route", "/")): 3.0, (("le", "1.0"), ("route", "/")): 9.0,
                       (("le", "+Inf"), ("route", "/")): 18.0}
    assert stock_fallbacks == []


def test_live_directory_of_the_running_process(monkeypatch, tmp_path, stock_fallbacks):
    """Layouts stay right while one process keeps writing between renders (values change in place)."""
    duration = worker_traffic(monkeypatch, tmp_path, 301)
    with process(monkeypatch, tmp_path, 301):
        for round_ in range(5):
            for _ in range(20):
                duration.labels("/api/carts", "POST", "201").observe(round_ / 128)
            assert_same_as_stock(tmp_path)
    assert stock_fallbacks == []


def exact_sums(path):
    """{(sample name, labels): math.fsum of every file's value} for the summed non-bucket samples."""
    contributions = {}
    for filename in glob.glob(os.path.join(str(path), "*.db")):
        if os.path.basename(filename).startswith("gauge_"):
            continue
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(filename):
            _metric, name, labels, _help = json.loads(key)
            if not name.endswith("_bucket"):
                contributions.setdefault((name, tuple(sorted(labels.items()))), []).append(value)
    return {key: math.fsum(values) for key, values in contributions.items()}


def test_arbitrary_floats_differ_from_stock_only_in_exact_sums(monkeypatch, tmp_path, stock_fallbacks):
    """On floats whose sums round, each line is stock's, except that a sum's value is the exact one."""
    for pid in (101, 102, 103, 104):
        worker_traffic(monkeypatch, tmp_path, pid, binary_exact=False)
    compact_dead_worker(103, path=str(tmp_path))
    ours = render_metrics(path=str(tmp_path))[0].decode().splitlines()
    theirs = stock_render(tmp_path).decode().splitlines()
    sums = exact_sums(tmp_path)
    rendered = {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families("\n".join(ours) + "\n") for s in family.samples}
    assert len(ours) == len(theirs)
    differing = 0
    for our_line, their_line in zip(ours, theirs):
        if our_line == their_line:
            continue
        differing += 1
        prefix, _, our_value = our_line.rpartition(" ")
        their_prefix, _, their_value = their_line.rpartition(" ")
        assert prefix == their_prefix, f"lines differ beyond their value: {our_line!r} vs {their_line!r}"
        assert math.isclose(float(our_value), float(their_value), rel_tol=1e-12), (our_line, their_line)
    for key, value in sums.items():
        assert rendered[key] == value, f"{key} is {rendered[key]}, not the exact sum {value}"
    assert differing > 0, "the data no longer has sums that round: this test checks nothing"
    assert stock_fallbacks == []
