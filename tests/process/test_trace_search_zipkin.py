"""The trace search against the real Zipkin jar (app/common/trace_search.py): its API finds the traces of a
window by service, least duration and error tag, and its UI, opened in Chromium at the link the inbox and the
drill build, shows that search's trace and not the others."""
import secrets
import time

import requests

from app.common.trace_search import Search, find_traces, search_url, trace_url
from processes import chromium
from processes.waiting import poll_until
from tests.process.test_zipkin import zipkin_url  # noqa: F401 - the fixture: Zipkin as the launcher starts it


def post_trace(url, service, name, start_seconds, duration_seconds, error=False):
    """One server span of a new trace; its trace id."""
    trace_id = secrets.token_hex(16)
    span = {"traceId": trace_id, "id": secrets.token_hex(8), "name": name, "kind": "SERVER",
            "timestamp": int(start_seconds * 1e6), "duration": int(duration_seconds * 1e6),
            "localEndpoint": {"serviceName": service}, "tags": {"error": "503"} if error else {}}
    assert requests.post(url + "/api/v2/spans", json=[span], timeout=10).status_code == 202
    return trace_id


def test_the_api_and_the_ui_find_a_windows_slow_and_failed_traces(zipkin_url):  # noqa: F811
    service = "svc" + secrets.token_hex(4)
    now = time.time()
    slow = post_trace(zipkin_url, service, "post /charges", now - 30, 0.6)
    fast = post_trace(zipkin_url, service, "post /charges", now - 29, 0.01)
    failed = post_trace(zipkin_url, service, "get /quotes", now - 28, 0.01, error=True)
    before = post_trace(zipkin_url, service, "post /charges", now - 600, 0.9)  # slow, but before the window

    window = (now - 60, now)

    def found(search):
        return sorted(trace[0]["traceId"] for trace in find_traces(zipkin_url, search))
    everything = poll_until(lambda: found(Search(service, *window)) or None, "Zipkin to have the spans", 30)
    assert everything == sorted([slow, fast, failed])
    assert found(Search(service, *window, min_seconds=0.5)) == [slow]
    assert found(Search(service, *window, annotation_query="error")) == [failed]
    assert found(Search(service, now - 900, now, min_seconds=0.5)) == sorted([slow, before])

    with chromium.launched() as browser:
        page = browser.new_page()
        page.goto(search_url(zipkin_url, Search(service, *window, min_seconds=0.5)))
        poll_until(lambda: slow[:8] in page.content() or slow in page.content() or None,
                   "Zipkin's UI to list the slow trace of the window", 30)
        shown = page.content()
        assert fast not in shown and before not in shown
        page.goto(trace_url(zipkin_url, slow))
        poll_until(lambda: "post /charges" in page.content() or None, "Zipkin's UI to show the trace", 30)
