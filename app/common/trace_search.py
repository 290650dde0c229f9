"""Example traces of a time window in Zipkin: the link to its UI's search, and the same search through its API.

One search, two spellings. A person follows `search_url`: Zipkin 3's UI (zipkin-lens, served at `/zipkin/`)
reads its search from the page's query string: `serviceName`, `spanName`, `minDuration` (microseconds when
the value has no unit), `annotationQuery` (`error` finds spans tagged error), the window as
`lookback=range` with `startTs` and `endTs` in milliseconds, and `limit`. Those names are lens 3.6.1's own
(read from the bundle in the zipkin-server jar: `lookback=range` is what it writes for a custom window;
`lookback=custom` is not a value it knows: it would ignore the window).

A program calls `find_traces`: `GET /api/v2/traces` with the same criteria, the window as `endTs` and
`lookback` (both milliseconds). Every call has a timeout; a failure is a TraceSearchError whose `outcome` is
one of a closed set ("unreachable", "timeout", "bad_response") and whose message is a whole sentence.
"""
import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests

UI_PATH = "/zipkin/"
DEFAULT_LIMIT = 10
TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class TraceSearchError(Exception):
    """Zipkin could not be asked; `outcome` says how, the message says it in a sentence."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome, self.message = outcome, message


@dataclass(frozen=True)
class Search:
    """Traces of one service in a window [start, end] (unix seconds), narrowed by span name, least
    duration (seconds) and an annotation query."""
    service: str
    start: float
    end: float
    span_name: str | None = None
    min_seconds: float | None = None
    annotation_query: str | None = None
    limit: int = DEFAULT_LIMIT

    def criteria(self) -> dict[str, str]:
        """The criteria both spellings share, in the UI's order (durations in whole microseconds)."""
        found = {"serviceName": self.service}
        if self.span_name:
            found["spanName"] = self.span_name
        if self.min_seconds is not None:
            found["minDuration"] = str(math.floor(self.min_seconds * 1_000_000))
        if self.annotation_query:
            found["annotationQuery"] = self.annotation_query
        return found

    @property
    def start_ms(self) -> int:
        return math.floor(self.start * 1000)

    @property
    def end_ms(self) -> int:
        return math.ceil(self.end * 1000)


def search_url(zipkin: str, search: Search) -> str:
    """The Zipkin UI's page for the search (`zipkin`: its base URL, e.g. http://localhost:9411)."""
    params = {**search.criteria(), "lookback": "range", "startTs": str(search.start_ms),
              "endTs": str(search.end_ms), "limit": str(search.limit)}
    return zipkin.rstrip("/") + UI_PATH + "?" + urlencode(params, quote_via=quote)


def trace_url(zipkin: str, trace_id: str) -> str:
    """The Zipkin UI's page of one trace."""
    return f"{zipkin.rstrip('/')}{UI_PATH}traces/{quote(trace_id, safe='')}"


def find_traces(zipkin: str, search: Search, timeout: float = TIMEOUT_SECONDS) -> list[list[dict[str, Any]]]:
    """The traces Zipkin's API finds for the search, each a list of spans in its v2 JSON, or TraceSearchError."""
    params = {**search.criteria(), "endTs": str(search.end_ms),
              "lookback": str(max(1, search.end_ms - search.start_ms)), "limit": str(search.limit)}
    url = zipkin.rstrip("/") + "/api/v2/traces"
    try:
        with requests.get(url, params=params, timeout=timeout, stream=True) as response:
            body = b""
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise TraceSearchError("bad_response", f"Zipkin's answer at {url} is larger than "
                                                           f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB.")
            status = response.status_code
    except requests.Timeout:
        raise TraceSearchError("timeout", f"Zipkin did not answer within {timeout:g} s at {url}.") from None
    except requests.RequestException:
        raise TraceSearchError("unreachable", f"No trace backend: Zipkin is unreachable at {url}.") from None
    if status != 200:
        raise TraceSearchError("bad_response", f"Zipkin answered {status} at {url}: {body[:200]!r}.")
    try:
        traces = json.loads(body)
    except ValueError:
        raise TraceSearchError("bad_response", f"Zipkin's answer at {url} is not JSON.") from None
    if not isinstance(traces, list) or not all(isinstance(t, list) for t in traces):
        raise TraceSearchError("bad_response", f"Zipkin's answer at {url} is not a list of traces.")
    return traces
