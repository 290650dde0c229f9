"""A server span per request, by hand (not opentelemetry-instrumentation-flask): the same hooks as the metrics.

Before the request: the incoming W3C `traceparent` is extracted and, when tracing records, a SERVER span
`METHOD route` starts as its child (or as a new root, sampled at the service's ratio); the context is
attached for the whole request, so the request's exemplars, log lines, database and payments spans
see it. With tracing off only the caller's context is attached (its trace id still reaches exemplars,
logs and payments). At teardown the span ends with the status code and the context is detached.
"""
from flask import Flask, Response, g, request
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.common import tracing
from app.common.http_metrics import NOT_IN_PROGRESS_PATHS, method_label, route_label


class RequestSpans:
    """Starts, attaches and ends each request's server span."""

    def __init__(self, tracing_: tracing.Tracing) -> None:
        self.tracing = tracing_

    def init_app(self, app: Flask) -> None:
        """Register the hooks (after the request log's, before the metrics', so both see the span)."""
        app.extensions["tracing"] = self.tracing
        app.before_request(self._before)
        app.after_request(self._after)
        app.teardown_request(self._teardown)

    def _before(self) -> None:
        if request.path in NOT_IN_PROGRESS_PATHS:
            return  # scrapes are not traced
        parent = tracing.extract(request.headers)
        if self.tracing.enabled:
            method, route = method_label(), route_label()
            span = self.tracing.tracer().start_span(
                f"{method} {route}", context=parent, kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "http.route": route, "url.path": request.path})
            g.trace_span = span
            parent = trace.set_span_in_context(span, parent)
        g.trace_token = context.attach(parent)

    def _after(self, response: Response) -> Response:
        span = g.get("trace_span")
        if span is not None:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
        return response

    def _teardown(self, exc: BaseException | None) -> None:
        span = g.pop("trace_span", None)
        if span is not None:
            if exc is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        token = g.pop("trace_token", None)
        if token is not None:
            context.detach(token)
