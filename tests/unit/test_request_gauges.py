"""The request gauges (app/common/http_metrics.py): in progress, duration, each worker's resident memory.

A request served must leave the in-progress gauge where it found it (a
missed decrement would show requests stuck forever), and the memory gauge
must report the *current* resident size, in bytes: from /proc, and where
/proc cannot be read, the peak resident size getrusage gives, in bytes too.
"""
import mmap

import pytest

from app.common import http_metrics
from app.common.http_metrics import resident_memory_bytes
from tests.helpers.metrics_reading import sample

MIB = 1024 * 1024


@pytest.fixture
def client(shop_app):
    return shop_app.test_client()


@pytest.mark.parametrize("path", ["/api/products", "/no/such/page"])
def test_a_finished_request_is_no_longer_in_progress(client, path):
    before = sample("shop_http_requests_in_progress")
    client.get(path)
    client.get(path)
    assert sample("shop_http_requests_in_progress") == before, f"GET {path} stayed counted as in progress"


def test_a_fast_request_is_observed_with_its_own_short_duration(client):
    labels = {"route": "/api/products", "method": "GET", "code": "200"}
    before = (sample("shop_http_request_duration_seconds_sum", **labels),
              sample("shop_http_request_duration_seconds_bucket", le="5.0", **labels))
    assert client.get("/api/products").status_code == 200
    took = sample("shop_http_request_duration_seconds_sum", **labels) - before[0]
    assert 0 < took < 5, f"a catalog request was observed as taking {took} s"
    assert sample("shop_http_request_duration_seconds_bucket", le="5.0", **labels) == before[1] + 1


def status_kib(field):
    """A `VmRSS`-style field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/self/status has no {field}")


def raise_peak_above_current(size=256 * MIB):
    """Touch and give back a large anonymous map, so the peak resident size is well above the current one."""
    block = mmap.mmap(-1, size)
    for offset in range(0, size, mmap.PAGESIZE):
        block[offset] = 1
    block.close()


def test_the_memory_gauge_reads_the_current_resident_size_in_bytes():
    raise_peak_above_current()
    current = resident_memory_bytes()
    expected = status_kib("VmRSS") * 1024
    assert abs(current - expected) <= 8 * MIB, f"resident size {current} B, /proc/self/status says {expected} B"
    assert status_kib("VmHWM") * 1024 - current > 128 * MIB, "the gauge reported the peak, not the current size"


def test_without_proc_the_memory_gauge_reads_the_peak_in_bytes(monkeypatch):
    raise_peak_above_current(64 * MIB)

    def no_proc(*_args, **_kwargs):
        raise FileNotFoundError("no /proc here")

    peak_before = status_kib("VmHWM")
    monkeypatch.setattr(http_metrics, "open", no_proc, raising=False)
    peak = resident_memory_bytes()
    monkeypatch.undo()
    assert peak_before * 1024 <= peak <= status_kib("VmHWM") * 1024, f"peak {peak} B vs VmHWM {peak_before} KiB"


def in_progress_in(exposition):
    """The value of shop_http_requests_in_progress on a /metrics page."""
    for line in exposition.splitlines():
        if line.startswith("shop_http_requests_in_progress "):
            return float(line.split()[1])
    raise AssertionError("the /metrics page has no shop_http_requests_in_progress")


def test_the_scrape_does_not_count_itself_as_in_progress(client):
    """Prometheus's own GET /metrics is not a request the shop serves: counted, every scrape would see at
    least 1 in progress per instance (a floor on the utilisation panels)."""
    idle = sample("shop_http_requests_in_progress")
    assert in_progress_in(client.get("/metrics").data.decode()) == idle
    assert sample("shop_http_requests_in_progress") == idle
