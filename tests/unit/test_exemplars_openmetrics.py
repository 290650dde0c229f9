"""Exemplars end to end in one process: traceparent -> observe -> worker file -> OpenMetrics /metrics.

The OpenMetrics exposition is what scrapers that ask for it get (`Accept: application/openmetrics-text`);
it must parse with prometheus_client's own OpenMetrics parser and follow the spec (an exemplar's label
set at most 128 UTF-8 characters, with a timestamp). The text format stays what it was.
"""
import math
import os

import pytest
from prometheus_client import Histogram, values
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from app.common import exemplar_files, exemplars
from app.common.exemplar_files import ExemplarFile, entry_key
from app.common.multiprocess_metrics import OPENMETRICS_CONTENT_TYPE, render_metrics, render_stock
from app.common.service import wants_openmetrics
from tests.helpers.metrics_files import stock_render, write

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
PROMETHEUS_3_ACCEPT = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                       "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
                       "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")


@pytest.mark.parametrize("header, expected", [
    (TRACEPARENT, TRACE),
    (f"00-{TRACE}-00f067aa0ba902b7-00", None),  # not sampled
    (f"00-{TRACE}-00f067aa0ba902b7-03", TRACE),  # sampled plus a future flag
    (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # invalid trace id
    (f"00-{TRACE}-{'0' * 16}-01", None),  # invalid parent id
    (f"ff-{TRACE}-00f067aa0ba902b7-01", None),  # forbidden version
    (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),  # version 00 has exactly four fields
    (f"01-{TRACE}-00f067aa0ba902b7-01-extra", TRACE),  # a later version may add fields
    (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),  # uppercase is not valid
    ("garbage", None), ("", None), (None, None),
])
def test_trace_id_from_traceparent(header, expected):
    assert exemplars.trace_id_from_traceparent(header) == expected


@pytest.mark.parametrize("value, bound", [(0.0, 0.1), (0.1, 0.1), (0.10001, 0.25), (0.3, math.inf)])
def test_an_observation_is_the_exemplar_of_the_first_bucket_holding_it(value, bound):
    assert exemplars.bucket_bound([0.1, 0.25, math.inf], value) == bound


@pytest.mark.parametrize("accept, expected", [
    (PROMETHEUS_3_ACCEPT, True),
    ("application/openmetrics-text; version=1.0.0", True),
    ("text/plain;version=0.0.4;q=0.5,application/openmetrics-text;q=0.1", True),
    ("application/openmetrics-text;q=0", False), ("application/openmetrics-text; Q=0.000", False),
    ("application/openmetrics-text;q=0.001", True), ("application/openmetrics-text;q=x", True),
    ("text/plain;version=0.0.4", False), ("*/*", False), ("", False), (None, False),
])
def test_openmetrics_only_when_the_scraper_asks(accept, expected):
    assert wants_openmetrics(accept) is expected


def histogram_dir(path, with_exemplars=True):
    """Two workers' histogram files, and their exemplar files."""
    for pid in (1, 2):
        write(path, f"histogram_{pid}.db", [
            (("t_duration_seconds", "t_duration_seconds_bucket", ["route", "le"], ["/", le], 'Time "taken".'),
             value) for le, value in (("0.1", 1.0), ("0.25", 2.0), ("+Inf", 3.0))] + [
            (("t_duration_seconds", "t_duration_seconds_sum", ["route"], ["/"], 'Time "taken".'), 0.5)])
        write(path, f"counter_{pid}.db", [(("t_orders", "t_orders_total", [], [], "Orders."), 2.0)])
        if with_exemplars:
            writer = ExemplarFile(str(path / exemplar_files.file_name(pid)))
            writer.write(entry_key("t_duration_seconds", {"route": "/"}, "0.25"), 0.2, 1000.0 + pid,
                         bytes.fromhex(f"{pid:032x}"))
            writer.write(entry_key("t_duration_seconds", {"route": "/"}, "+Inf"), 3.5, 900.0,
                         bytes.fromhex(TRACE))
            writer.close()


def exemplars_of(body):
    """{(sample name, labels): exemplar} of an OpenMetrics body, parsed by prometheus_client's parser."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.exemplar
            for family in text_string_to_metric_families(body.decode("utf-8"))
            for sample in family.samples if sample.exemplar is not None}


def test_openmetrics_render_carries_the_latest_exemplar_of_each_bucket(tmp_path):
    histogram_dir(tmp_path)
    body, content_type = render_metrics(str(tmp_path), openmetrics=True)
    assert content_type == OPENMETRICS_CONTENT_TYPE
    assert body.endswith(b"# EOF\n")
    found = exemplars_of(body)
    assert set(found) == {("t_duration_seconds_bucket", (("le", "0.25"), ("route", "/"))),
                          ("t_duration_seconds_bucket", (("le", "+Inf"), ("route", "/")))}
    latest = found[("t_duration_seconds_bucket", (("le", "0.25"), ("route", "/")))]
    assert latest.labels == {"trace_id": f"{2:032x}"} and latest.value == 0.2
    assert float(latest.timestamp.sec) + latest.timestamp.nsec / 1e9 == 1002.0
    for exemplar in found.values():  # the spec's limit on an exemplar's label set, and a timestamp
        assert sum(len(name) + len(value) for name, value in exemplar.labels.items()) <= 128
        assert exemplar.timestamp is not None
    # The same bytes as prometheus_client's OpenMetrics exposition of the stock merge, exemplars set on it.
    assert body == render_stock(str(tmp_path), True, exemplar_files.merge(exemplar_files.files(str(tmp_path))))


def test_text_format_is_unchanged_by_exemplar_files(tmp_path):
    histogram_dir(tmp_path)
    body, content_type = render_metrics(str(tmp_path))
    assert content_type.startswith("text/plain")
    assert body == stock_render(tmp_path)
    assert b"trace_id" not in body


def test_openmetrics_without_exemplars_is_prometheus_clients_openmetrics(tmp_path):
    histogram_dir(tmp_path, with_exemplars=False)
    (tmp_path / exemplar_files.file_name(3)).write_bytes(b"\0" * 4)  # a worker creating its file: skipped
    body = render_metrics(str(tmp_path), openmetrics=True)[0]
    assert body == render_stock(str(tmp_path), True, {})
    assert exemplars_of(body) == {}


def test_observe_keeps_an_exemplar_only_for_a_sampled_trace(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # A value class of its own: prometheus_client's default one keeps the files it opened (in another directory).
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())
    histogram = Histogram("t_observed_seconds", "Observed.", ["route"], buckets=(0.1, 1.0), registry=None)
    exemplars.observe(histogram, ("/",), 0.05, None)
    exemplars.observe(histogram, ("/",), 0.5, TRACE)
    held = exemplar_files.read(str(tmp_path / exemplar_files.file_name(os.getpid())))
    assert list(held) == [entry_key("t_observed_seconds", {"route": "/"}, "1.0")]
    assert held[entry_key("t_observed_seconds", {"route": "/"}, "1.0")][2] == bytes.fromhex(TRACE)


def test_shop_metrics_in_openmetrics_has_an_exemplar_from_the_request_and_build_info_before_eof(shop_app):
    client = shop_app.test_client()
    assert client.get("/api/products", headers={"traceparent": TRACEPARENT}).status_code == 200
    text = client.get("/metrics")
    assert text.content_type.startswith("text/plain") and b"# EOF" not in text.data
    scraped = client.get("/metrics", headers={"Accept": PROMETHEUS_3_ACCEPT})
    assert scraped.content_type == OPENMETRICS_CONTENT_TYPE
    body = scraped.data
    assert body.endswith(b"# EOF\n") and body.count(b"# EOF") == 1
    assert b"shop_build_info{" in body
    found = exemplars_of(body)  # parses: build info included
    routes = {dict(labels).get("route") for (name, labels), exemplar in found.items()
              if name == "shop_http_request_duration_seconds_bucket" and exemplar.labels["trace_id"] == TRACE}
    assert "/api/products" in routes


def test_a_counter_family_is_named_without_total_in_openmetrics(tmp_path):
    write(tmp_path, "counter_1.db", [(("t_orders", "t_orders_total", [], [], "Orders."), 2.0)])
    body = render_metrics(str(tmp_path), openmetrics=True)[0].decode()
    assert "# TYPE t_orders counter\nt_orders_total 2.0\n" in body


def test_an_exemplar_that_cannot_be_written_does_not_fail_the_observation(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))  # no such directory: open fails
    monkeypatch.setattr(values, "ValueClass", values.MutexValue)  # the count itself kept in memory here
    histogram = Histogram("t_unwritable_seconds", "Unwritable.", ["route"], buckets=(0.1,), registry=None)
    exemplars.observe(histogram, ("/",), 0.05, TRACE)
    assert histogram.labels("/")._buckets[0].get() == 1.0
