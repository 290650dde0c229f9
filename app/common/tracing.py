"""Traces with the OpenTelemetry SDK: one provider per gunicorn worker, head sampling, Zipkin JSON export.

Why Zipkin JSON v2 (opentelemetry-exporter-zipkin-json) and not OTLP: the trace backend we mean to
run natively is Zipkin's server from Maven Central (one jar, its UI included), which accepts Zipkin
JSON v2 at `/api/v2/spans` itself. OTLP would need an OpenTelemetry Collector in between (one more
process and config on a machine whose native footprint goal is 700 MB), and the JSON exporter needs
no protobuf: its only dependency beyond the SDK is `requests`, which we already pin.

Configuration (environment):

* `OTEL_EXPORTER_ZIPKIN_ENDPOINT` (the SDK's own name for it), e.g. `http://127.0.0.1:9411/api/v2/spans`.
  Unset: no spans are recorded or sent (tests and `make local` without a backend keep working).
  The incoming W3C `traceparent` is still honoured: the request runs in its context, so exemplars
  and log lines carry the caller's trace id when the caller sampled it, and calls to payments pass
  it on.
* `TRACING_SAMPLE_RATIO` (0 to 1), default 1.0: every trace is kept, right for the demo's few requests
  a second. In production, keep about 1-10 requests a second per service, e.g. 0.01 at a few hundred a
  second: head sampling decides at the root (the load generator or the first service), and every
  service follows its caller's decision (parent-based), so a trace is never kept in part. The demo's
  load generator, where its traces start, runs at 0.2 (launcher/components.py LOADGEN_SAMPLE_RATIO says why).

A provider is created lazily in each process that records a span: after gunicorn forks (a provider
and its export thread do not survive a fork), once per worker. gunicorn's `worker_exit` hook calls
`shutdown()`, which flushes the spans still queued for export.
"""
import contextlib
import os
import threading
import weakref
from collections.abc import Iterator

from flask import current_app, has_app_context
from opentelemetry import context, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

ENDPOINT_VARIABLE = "OTEL_EXPORTER_ZIPKIN_ENDPOINT"
RATIO_VARIABLE = "TRACING_SAMPLE_RATIO"
DEFAULT_SAMPLE_RATIO = 1.0
PROPAGATOR = TraceContextTextMapPropagator()
_lock = threading.Lock()
_instances: "weakref.WeakSet[Tracing]" = weakref.WeakSet()  # every service's tracing in this process


def sample_ratio(environ: dict[str, str] = os.environ) -> float:  # type: ignore[assignment]
    """The head sampling ratio from the environment, or a whole-sentence error."""
    text = environ.get(RATIO_VARIABLE, "")
    if not text:
        return DEFAULT_SAMPLE_RATIO
    try:
        ratio = float(text)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{RATIO_VARIABLE} must be a number from 0 to 1, not {text!r}.")
    return ratio


class _HeaderGetter(Getter):
    """Reads a carrier that has `.get(name)` (werkzeug's headers; a dict)."""

    def get(self, carrier, key):
        value = carrier.get(key)
        return None if value is None else [value]

    def keys(self, carrier):
        return list(carrier.keys())


class Tracing:
    """One service's tracing: its tracer (per process), or none when no exporter is configured."""

    def __init__(self, service: str, exporter: SpanExporter | None = None, ratio: float | None = None) -> None:
        """`exporter` overrides the environment (tests pass the SDK's InMemorySpanExporter; exported at once)."""
        self.service = service
        self.exporter = exporter
        self.endpoint = os.environ.get(ENDPOINT_VARIABLE, "")
        self.ratio = sample_ratio() if ratio is None else ratio
        self._provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None
        self._pid = 0
        with _lock:
            _instances.add(self)

    @property
    def enabled(self) -> bool:
        """Whether spans are recorded (an exporter is configured)."""
        return self.exporter is not None or bool(self.endpoint)

    def tracer(self) -> trace.Tracer:
        """This process's tracer (a provider and its tracer are made on first use after a fork), or a no-op one.

        The tracer is kept: the SDK's `get_tracer` returns the same one every time, but only after
        a warnings filter, two scope objects and a locked lookup, several times a request.
        """
        if not self.enabled:
            return trace.NoOpTracer()
        if self._pid != os.getpid():
            with _lock:
                if self._pid != os.getpid():
                    self._provider = self._new_provider()
                    self._tracer = self._provider.get_tracer("app.common.tracing")
                    self._pid = os.getpid()
        assert self._tracer is not None
        return self._tracer

    def _new_provider(self) -> TracerProvider:
        provider = TracerProvider(resource=Resource.create({"service.name": self.service}),
                                  sampler=ParentBased(TraceIdRatioBased(self.ratio)))
        if self.exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        else:
            from opentelemetry.exporter.zipkin.json import ZipkinExporter  # only where spans are sent
            provider.add_span_processor(BatchSpanProcessor(ZipkinExporter(endpoint=self.endpoint, timeout=5)))
        return provider

    def shutdown(self) -> None:
        """Flush and stop this process's provider (spans still queued are exported)."""
        if self._provider is not None and self._pid == os.getpid():
            self._provider.shutdown()
            self._provider, self._tracer, self._pid = None, None, 0


def shutdown() -> None:
    """Flush every service's provider in this process (gunicorn's worker_exit)."""
    with _lock:
        instances = list(_instances)
    for instance in instances:
        instance.shutdown()


def extract(headers) -> context.Context:
    """The context of an incoming request's W3C `traceparent` (empty when it has none or a bad one)."""
    return PROPAGATOR.extract(headers, getter=_HeaderGetter())


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current span's `traceparent` to outgoing headers; return them."""
    PROPAGATOR.inject(headers)
    return headers


def sampled_trace_id() -> str | None:
    """The current span's trace id (32 hex digits) when it is sampled, else None: what an exemplar takes."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid and span_context.trace_flags.sampled:
        return format(span_context.trace_id, "032x")
    return None


def current_ids() -> dict[str, str]:
    """{"trace_id", "span_id"} of the current span for a log line, or {} outside a valid one."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": format(span_context.trace_id, "032x"), "span_id": format(span_context.span_id, "016x")}


def current_tracing() -> "Tracing | None":
    """The tracing of the app handling the current request (init_service puts it there), if any."""
    return current_app.extensions.get("tracing") if has_app_context() else None


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: dict | None = None) -> Iterator[Span]:
    """A child span of the current one, in the current app's tracing; with tracing off, the current span, untouched.

    (The API's no-op tracer would make an invalid span current, hiding the caller's trace id from the
    exemplars and log lines inside.)
    """
    tracing = current_tracing()
    if tracing is None or not tracing.enabled:
        yield trace.get_current_span()
        return
    # What the SDK's start_as_current_span does, without its own context manager around use_span.
    started = tracing.tracer().start_span(name, kind=kind, attributes=attributes)
    with trace.use_span(started, end_on_exit=True) as current:
        yield current


def add_event(name: str, attributes: dict | None = None) -> None:
    """An event on the current span (a fault knob acting, say); nothing when no span records."""
    trace.get_current_span().add_event(name, attributes or {})
