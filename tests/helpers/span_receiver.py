"""A Zipkin v2 span receiver for tests: a real HTTP server keeping every span POSTed to /api/v2/spans."""
import contextlib
import threading
from collections.abc import Iterator

from flask import Flask, request

from tests.helpers.servers import ThreadedServer


@contextlib.contextmanager
def span_receiver() -> Iterator[tuple[str, list[dict]]]:
    """Yield (endpoint, spans): the URL to give OTEL_EXPORTER_ZIPKIN_ENDPOINT and every span received so far."""
    spans: list[dict] = []
    lock = threading.Lock()
    app = Flask("zipkin-receiver")

    @app.post("/api/v2/spans")
    def receive():
        with lock:
            spans.extend(request.get_json())
        return "", 202
    with ThreadedServer(app) as server:
        yield server.url + "/api/v2/spans", spans


def by_service(spans: list[dict], service: str) -> list[dict]:
    """The spans one service sent (its `localEndpoint.serviceName`)."""
    return [span for span in list(spans) if span.get("localEndpoint", {}).get("serviceName") == service]


def traced_services_env(endpoint: str) -> tuple[dict[str, str], dict[str, str]]:
    """(shop env, payments env) sending every trace to `endpoint`; payments declines no card at random (4 % by
    default): a 402 would be a business answer, not what the tracing tests look at."""
    env = {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": endpoint, "TRACING_SAMPLE_RATIO": "1.0"}
    return env, {**env, "PAYMENTS_DECLINE_RATIO": "0"}
