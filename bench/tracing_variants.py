"""The three shops of the tracing part (bench/tracing_cost.py), built in the child that callgrind counts.

* none: every metric a no-op (bench/variants.py) and none of our tracing: no server span hooks, no
  database or payments spans, no traceparent sent, no trace ids in exemplars or log lines;
* ours: the real shop, our metrics, tracing and exemplars, sampling every request;
* auto: none's shop with prometheus_flask_exporter (as in part 1), opentelemetry-instrumentation-flask
  and opentelemetry-instrumentation-requests.

ours and auto trace through the same SDK setup: a TracerProvider with the shop's resource, the sampler
`ParentBased(TraceIdRatioBased(SAMPLE_RATIO))`, a SimpleSpanProcessor (ends are exported in the
request, so callgrind counts them; a BatchSpanProcessor's thread would be counted whenever it woke)
and an exporter that counts the spans and drops them, so that only the instrumentation differs.
Each function is called once per process (`python -m bench.instructions_child bench.tracing_variants:ours()`):
none and auto patch our tracing out of this process's modules.
"""
import contextlib
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

SAMPLE_RATIO = 1.0
# The endpoint calls payments, which runs outside callgrind; generous timeouts so that a slow
# instrumented child never turns a quote into a timeout (another code path, another count).
SHOP_CONFIG = {"PAYMENTS_CONNECT_TIMEOUT_SECONDS": 30.0, "PAYMENTS_QUOTE_TIMEOUT_SECONDS": 30.0}


class DiscardingExporter(SpanExporter):
    """Counts the spans it is handed and keeps none: exporting costs every variant the same (nothing)."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def provider(exporter: SpanExporter) -> TracerProvider:
    """The SDK setup of app/common/tracing.py, for the auto variant."""
    result = TracerProvider(resource=Resource.create({"service.name": "shop"}),
                            sampler=ParentBased(TraceIdRatioBased(SAMPLE_RATIO)))
    result.add_span_processor(SimpleSpanProcessor(exporter))
    return result


class _NoRequestSpans:
    """Stands in for app.common.request_spans.RequestSpans: registers no hooks."""

    def __init__(self, _tracing) -> None:
        pass

    def init_app(self, _app) -> None:
        pass


@contextlib.contextmanager
def _no_span(_name, _kind=None, _attributes=None):
    yield trace.INVALID_SPAN


def remove_our_tracing() -> None:
    """Patch our tracing and exemplars out of this process (before the shop is built)."""
    from app.common import exemplars, service, tracing
    service.RequestSpans = _NoRequestSpans
    tracing.span = _no_span
    tracing.inject = lambda headers: headers
    tracing.current_ids = dict
    exemplars.sampled_trace_id = lambda: None
    exemplars.observe = lambda histogram, labelvalues, value, _trace_id: histogram.labels(*labelvalues).observe(value)


def none():
    """Variant (a): no metrics, no tracing."""
    from bench.variants import shop_without_metrics
    remove_our_tracing()
    app = shop_without_metrics(SHOP_CONFIG)
    app.extensions["bench_exporter"] = DiscardingExporter()  # no span reaches it: says so, 0 per request
    return app


def ours():
    """Variant (b): the shop as it runs, tracing every request into the discarding exporter."""
    os.environ.pop("OTEL_EXPORTER_ZIPKIN_ENDPOINT", None)
    from app.shop import create_app
    exporter = DiscardingExporter()
    app = create_app({**SHOP_CONFIG, "TRACING_EXPORTER": exporter})
    if app.extensions["tracing"].ratio != SAMPLE_RATIO:
        raise RuntimeError(f"Our tracing samples {app.extensions['tracing'].ratio}, not {SAMPLE_RATIO}; "
                           "unset TRACING_SAMPLE_RATIO.")
    app.extensions["bench_exporter"] = exporter
    return app


def auto():
    """Variant (c): prometheus_flask_exporter and OpenTelemetry's Flask and requests instrumentation."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from bench.variants import shop_with_flask_exporter
    remove_our_tracing()
    app = shop_with_flask_exporter(SHOP_CONFIG)
    exporter = DiscardingExporter()
    tracer_provider = provider(exporter)
    FlaskInstrumentor().instrument_app(app, tracer_provider=tracer_provider)
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)
    app.extensions["bench_exporter"] = exporter
    return app
