"""One example trace per drilled scenario: a trace whose spans show the fault's cause, asked of Zipkin.

What shows the cause follows from the scenario's change in loadgen/scenarios.yaml (its service, knob and
parameters, read from the catalog, never copied):

* payments `latency`: the shop's client span to payments (`payments <operation>`), or else payments' own
  server span, lasting at least the injected median latency (`median_seconds`).
* payments `errors` and `refuse`: the shop's client span to payments, tagged error.
* payments `export_errors`: payments' server span tagged error (the batch job's export call).
* shop `slow_code`: the shop's `compute catalog` span lasting at least the injected `extra_seconds`.
* shop `bad_deploy`: the shop's server span tagged error.

Every other scenario gets a sentence saying why no span shows it (NO_SPAN). At the end of a scenario the
drill asks Zipkin's API for the traces of the fault window (app/common/trace_search.py, bounded timeout) and
`choose` picks, among the spans that match, the preferred kind first, then the longest. Zipkin out of reach is
a note ("No trace backend: ..."), never a failure of the drill.
"""
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.common.trace_search import Search, TraceSearchError, find_traces, trace_url
from loadgen.catalog import Scenario

ZIPKIN_BROWSER_PORT = 9411  # where compose publishes Zipkin: what a browser opens for http://zipkin:9411
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class Cause:
    """Which spans show a fault: (service, kind, span name prefix) in order of preference, a least duration in
    seconds and whether the span must be tagged error; `search` is what Zipkin is asked for."""
    what: str
    spans: tuple[tuple[str, str | None, str], ...]
    min_seconds: float | None = None
    error: bool = False
    service: str = "shop"
    span_name: str | None = None


PAYMENTS_CALL = ("shop", "CLIENT", "payments ")
NO_SPAN = {
    ("shop", "checkout_silent_failure"): "No span shows it: every request succeeds in normal time; "
                                         "only the business metrics do.",
    ("shop", "memory_leak"): "No span shows it: memory is not part of a request's trace.",
    ("shop", "stop"): "No span shows it: a stopped shop sends none.",
    ("loadgen", "rate_multiplier"): "No single span shows it: the cause is the number of requests, not one of them.",
    ("inbox", "refuse_webhooks"): "No span shows it: the alerting pipeline is not traced.",
}


def cause_of(scenario: Scenario) -> Cause | str:
    """The spans that show the scenario's cause, or a sentence saying why none does."""
    key, params = (scenario.service, scenario.knob), scenario.params
    if key == ("payments", "latency"):
        seconds = float(params["median_seconds"])
        return Cause(f"a call to payments lasting at least the injected median latency ({seconds:g} s)",
                     (PAYMENTS_CALL, ("payments", "SERVER", "")), min_seconds=seconds, service="payments")
    if key in (("payments", "errors"), ("payments", "refuse")):
        return Cause("a call to payments that failed", (PAYMENTS_CALL,), error=True)
    if key == ("payments", "export_errors"):
        return Cause("a payments request that failed", (("payments", "SERVER", ""),), error=True,
                     service="payments")
    if key == ("shop", "slow_code"):
        seconds = float(params["extra_seconds"])
        return Cause(f"the shop's catalog code lasting at least the injected {seconds:g} s",
                     (("shop", None, "compute catalog"),), min_seconds=seconds, span_name="compute catalog")
    if key == ("shop", "bad_deploy"):
        return Cause("a shop request that failed", (("shop", "SERVER", ""),), error=True)
    return NO_SPAN.get(key, "No span is known to show this fault.")


def search_for(cause: Cause, start: float, end: float) -> Search:
    """What Zipkin is asked for over the window."""
    return Search(cause.service, start, end, cause.span_name, cause.min_seconds,
                  "error" if cause.error else None, SEARCH_LIMIT)


def _rank(span: Mapping[str, Any], cause: Cause) -> tuple[int, int] | None:
    """(preference, -duration) of a span that shows the cause, or None."""
    service = (span.get("localEndpoint") or {}).get("serviceName")
    duration = span.get("duration") or 0
    if cause.min_seconds is not None and duration < cause.min_seconds * 1_000_000:
        return None
    if cause.error and "error" not in (span.get("tags") or {}):
        return None
    for preference, (wanted_service, kind, prefix) in enumerate(cause.spans):
        if service == wanted_service and (kind is None or span.get("kind") == kind) \
                and str(span.get("name", "")).startswith(prefix):
            return preference, -duration
    return None


def choose(traces: Iterable[Iterable[Mapping[str, Any]]], cause: Cause) -> dict[str, Any] | None:
    """The span (and its trace) that best shows the cause among traces as Zipkin's API returns them, or None."""
    best, best_rank = None, None
    for trace in traces:
        for span in trace:
            rank = _rank(span, cause)
            if rank is not None and (best_rank is None or rank < best_rank):
                best, best_rank = span, rank
    if best is None:
        return None
    return {"trace_id": best["traceId"], "service": best["localEndpoint"]["serviceName"], "span": best["name"],
            "kind": best.get("kind"), "duration_seconds": round((best.get("duration") or 0) / 1_000_000, 3),
            "error": (best.get("tags") or {}).get("error")}


def example_trace(zipkin: str, zipkin_public: str, scenario: Scenario, start: float, end: float) -> dict[str, Any]:
    """The report's entry: the chosen trace with its span, duration and link, or a note saying why there is none."""
    cause = cause_of(scenario)
    if isinstance(cause, str):
        return {"trace_id": None, "note": cause}
    try:
        traces = find_traces(zipkin, search_for(cause, start, end))
    except TraceSearchError as error:
        prefix = "" if error.outcome == "unreachable" else "No trace backend answered: "
        return {"trace_id": None, "cause": cause.what, "note": prefix + error.message}
    chosen = choose(traces, cause)
    if chosen is None:
        return {"trace_id": None, "cause": cause.what,
                "note": f"Zipkin has no trace of the fault window with {cause.what}."}
    return {**chosen, "cause": cause.what, "url": trace_url(zipkin_public, chosen["trace_id"]), "note": None}


def describe(entry: Mapping[str, Any] | None) -> str:
    """One sentence for the reports."""
    if not entry:
        return "No example trace was looked for."
    if not entry.get("trace_id"):
        return entry.get("note") or "No example trace."
    return (f"Trace {entry['trace_id']}: {entry['service']} span \"{entry['span']}\" lasted "
            f"{entry['duration_seconds']:g} s" + (f", error \"{entry['error']}\"" if entry.get("error") else "")
            + f" ({entry['cause']}); {entry['url']}")
