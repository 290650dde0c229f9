"""The compose stack for real, shared by every test in tests/compose/.

`make test-compose` runs these tests. The session starts docker-compose.yml
once (Docker with the pinned images when a Docker engine works, else Podman
with locally built stand-ins), on free loopback ports, under a project name
of its own, and removes every container, network and volume of that project
at the end, also when a test fails. The run time is printed at the end.
"""
import os
import time
from dataclasses import dataclass, field

import pytest

from processes.ports import free_port
from tests.compose.engine import pick_engine

# .env port variable -> the service whose port it publishes.
HOST_PORT_VARIABLES = {
    "SHOP_HOST_PORT": "edge", "PAYMENTS_HOST_PORT": "payments", "INBOX_HOST_PORT": "inbox",
    "LOADGEN_HOST_PORT": "loadgen", "PROMETHEUS_HOST_PORT": "prometheus", "PUSHGATEWAY_HOST_PORT": "pushgateway",
    "ALERTMANAGER_HOST_PORT": "alertmanager", "NODE_EXPORTER_HOST_PORT": "node-exporter",
    "BLACKBOX_EXPORTER_HOST_PORT": "blackbox-exporter", "GRAFANA_HOST_PORT": "grafana", "ZIPKIN_HOST_PORT": "zipkin",
}
TIMINGS = {}  # what the run took, printed at the end (tests add their own measured times)


@dataclass
class ComposeStack:
    """A running compose project and where its services answer on the host."""
    engine: object
    ports: dict = field(default_factory=dict)

    def url(self, service):
        """http://127.0.0.1:PORT of a service's published port."""
        return f"http://127.0.0.1:{self.ports[service]}"


@pytest.fixture(scope="session")
def compose_stack():
    """Build and start the stack; tear it down (and prove it is gone) afterwards."""
    ports = {service: free_port() for service in HOST_PORT_VARIABLES.values()}
    env = {variable: str(ports[service]) for variable, service in HOST_PORT_VARIABLES.items()}
    env["APP_IMAGE"] = "localhost/instrumented-shop/app:compose-test"
    engine = pick_engine(f"ishop-test-{os.getpid()}", env)
    if engine is None:
        pytest.fail("No container engine: run deploy/container-engine.sh --check for what to install.")
    started = time.monotonic()
    try:
        build_timings = engine.build_and_up() or {}
        TIMINGS.update({f"build {name}": seconds for name, seconds in build_timings.items()})
        TIMINGS["build + start"] = time.monotonic() - started
        TIMINGS["engine"] = engine.name
        yield ComposeStack(engine, ports)
    finally:
        teardown_started = time.monotonic()
        stragglers = engine.down()
        TIMINGS["teardown"] = time.monotonic() - teardown_started
        TIMINGS["total"] = time.monotonic() - started
        left = engine.leftovers()
        assert not left, f"Teardown left these behind even after forced removal: {left}."
        assert not stragglers, f"`compose down` left these behind (removed by force): {stragglers}."


def pytest_terminal_summary(terminalreporter):
    """Print how long the compose run took."""
    if not TIMINGS:
        return
    terminalreporter.section("compose run time")
    for name, value in TIMINGS.items():
        shown = f"{value:.1f} s" if isinstance(value, float) else value
        terminalreporter.write_line(f"{name}: {shown}")
