"""The reconcile job's spans (issue 16): one trace per run, a child span per integration point.

A run is the root span `reconcile run`; below it a CLIENT span per GET of an export (`shop orders`,
`payments charges`, one per attempt, whose W3C `traceparent` makes the shop's and payments' server
spans its children), `compare`, the CLIENT span `pushgateway push` and `textfile write`.

The job is not a Flask app, so it holds its own `Tracing` (service name `reconcile`; configured like
every service by OTEL_EXPORTER_ZIPKIN_ENDPOINT and TRACING_SAMPLE_RATIO, nothing recorded without an
endpoint) and starts its spans on that tracer. It is a short-lived process, and its spans wait in the
batch processor for up to 5 s: `flush()` exports them before the process exits.
"""
import contextlib
from collections.abc import Iterator

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.common import tracing

SERVICE = "reconcile"
TRACING = tracing.Tracing(SERVICE)


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: dict | None = None) -> Iterator[Span]:
    """A span of the job, the current one inside the block (a child of the run's, or the run's own)."""
    with TRACING.tracer().start_as_current_span(name, kind=kind, attributes=attributes) as current:
        yield current


def fail(current: Span, sentence: str) -> None:
    """Mark a span failed with the sentence that says why (cut to a length a trace UI shows)."""
    current.set_status(Status(StatusCode.ERROR, sentence[:200]))


def flush() -> None:
    """Export every span still queued and stop the provider: the last thing before the process exits."""
    TRACING.shutdown()
