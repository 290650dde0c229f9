"""The Zipkin search of a window: the UI's link and the API's query (app/common/trace_search.py)."""
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.common import trace_search
from app.common.trace_search import Search, TraceSearchError, find_traces, search_url, trace_url
from processes.ports import free_port

# 2024-05-01T10:00:00.123Z to 10:05:00Z
WINDOW = (1714557600.123, 1714557900.0)


def test_the_ui_link_is_lens_search_of_the_window_in_milliseconds_and_microseconds():
    url = search_url("http://localhost:9411/", Search("payments", *WINDOW, span_name="post /charges",
                                                      min_seconds=0.5, annotation_query="error", limit=5))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost:9411", "/zipkin/")
    # Zipkin lens 3.6.1's own names: a custom window is lookback=range with startTs and endTs.
    assert parse_qsl(parts.query) == [
        ("serviceName", "payments"), ("spanName", "post /charges"), ("minDuration", "500000"),
        ("annotationQuery", "error"), ("lookback", "range"), ("startTs", "1714557600123"),
        ("endTs", "1714557900000"), ("limit", "5")]


def test_criteria_not_given_are_left_out():
    url = search_url("http://localhost:9411", Search("shop", *WINDOW))
    assert [key for key, _ in parse_qsl(urlsplit(url).query)] == \
        ["serviceName", "lookback", "startTs", "endTs", "limit"]


def test_a_trace_link_is_its_page_in_the_ui():
    assert trace_url("http://localhost:19411/", "4bf92f3577b34da6a3ce929d0e0e4736") == \
        "http://localhost:19411/zipkin/traces/4bf92f3577b34da6a3ce929d0e0e4736"


def test_no_zipkin_is_an_unreachable_outcome_in_a_sentence():
    with pytest.raises(TraceSearchError, match=r"^No trace backend: Zipkin is unreachable at .*\.$") as caught:
        find_traces(f"http://127.0.0.1:{free_port()}", Search("shop", *WINDOW), timeout=2)
    assert caught.value.outcome == "unreachable"


def test_the_api_timeout_is_bounded():
    assert 0 < trace_search.TIMEOUT_SECONDS <= 10
