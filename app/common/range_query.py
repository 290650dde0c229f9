"""Ask Prometheus's `query_range` API for the samples of one expression, boundedly.

Every call has a short timeout and reads at most MAX_RESPONSE_BYTES, so a slow
or chatty Prometheus costs the inbox page a bounded time and memory. Failures
map to a closed set of outcomes (RangeQueryError.outcome), each with a
sentence the page shows in the graph's place.
"""
import json
import math
from dataclasses import dataclass

import requests

TIMEOUT_SECONDS = 2.0
MAX_RESPONSE_BYTES = 1024 * 1024
MAX_SERIES = 8  # more lines than this are unreadable in a small graph; the caption counts the rest
OUTCOMES = ("ok", "not_configured", "unreachable", "timeout", "error", "too_large", "bad_response")


class RangeQueryError(RuntimeError):
    """The range query gave no data; `outcome` is one of OUTCOMES, the message a whole sentence."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


@dataclass(frozen=True)
class RangeResult:
    """The first MAX_SERIES series (label text, samples) and how many series there were in all."""
    series: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]
    total_series: int


def _label_text(metric: dict) -> str:
    """A series' labels as PromQL writes them: name{a="1", b="2"}."""
    name = metric.get("__name__", "")
    labels = ", ".join(f'{key}="{value}"' for key, value in sorted(metric.items()) if key != "__name__")
    return f"{name}{{{labels}}}" if labels or not name else name


def _value(text) -> float:
    """A sample value as Prometheus sends it (a string: "0.5", "NaN", "+Inf")."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _read_bounded(response: requests.Response) -> bytes:
    """The body, or RangeQueryError if it is longer than MAX_RESPONSE_BYTES."""
    body = b""
    for chunk in response.iter_content(64 * 1024):
        body += chunk
        if len(body) > MAX_RESPONSE_BYTES:
            raise RangeQueryError("too_large", f"Prometheus answered with more than {MAX_RESPONSE_BYTES} bytes; "
                                               "the graph is not drawn.")
    return body


def query_range(prometheus_url: str, expression: str, start: float, end: float, step: float,
                timeout: float = TIMEOUT_SECONDS) -> RangeResult:
    """The expression's samples from `start` to `end` every `step` seconds, or RangeQueryError."""
    if not prometheus_url:
        raise RangeQueryError("not_configured", "No Prometheus is configured (PROMETHEUS_URL).")
    try:
        with requests.get(prometheus_url.rstrip("/") + "/api/v1/query_range", stream=True, timeout=timeout,
                          params={"query": expression, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                  "step": f"{step:g}", "timeout": f"{timeout:g}s"}) as response:
            body = _read_bounded(response)
    except requests.Timeout:
        raise RangeQueryError("timeout", f"Prometheus did not answer within {timeout:g} s.") from None
    except requests.RequestException:
        raise RangeQueryError("unreachable", f"Prometheus is unreachable at {prometheus_url}.") from None
    try:
        answer = json.loads(body)
    except ValueError:
        raise RangeQueryError("bad_response", "Prometheus's answer is not JSON.") from None
    if not isinstance(answer, dict) or answer.get("status") != "success":
        error = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        raise RangeQueryError("error", f"Prometheus refused the query: {error[:200] or 'no reason given'}.")
    data = answer.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise RangeQueryError("bad_response", "Prometheus's answer is not a range of series.")
    try:
        series = tuple((_label_text(item["metric"]), tuple((float(t), _value(v)) for t, v in item["values"]))
                       for item in data["result"][:MAX_SERIES])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RangeQueryError("bad_response", "Prometheus's answer has a series without labels or samples.") \
            from None
    return RangeResult(series, len(data["result"]))
