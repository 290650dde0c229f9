"""What each component of the native stack is: its command, environment, health check and dependencies."""
import os
import sys
from dataclasses import dataclass, field

from app.common import dashboard_links
from launcher import binaries, zipkin
from prometheus import links
from prometheus.slo import spec as slo_spec

PYTHON = sys.executable
# The ports compose publishes (the *_HOST_PORT lines of .env): `make local` listens where `docker compose up` would.
DEFAULT_PORTS = links.published_ports()
PORT_VARIABLES = {name: f"{name.upper()}_PORT" for name in DEFAULT_PORTS}
# Start order: a component only starts after the ones before it are healthy (the trace backend first, so the
# services' first spans have somewhere to go).
ORDER = ("zipkin", "payments", "shop", "inbox", "pushgateway", "node_exporter", "blackbox_exporter",
         "alertmanager", "prometheus", "reconcile", "loadgen", "grafana")
# The components the inbox's pages link to (app/inbox/public_links.py DOCUMENT_BASES).
PUBLIC_LINKED = ("inbox", "grafana", "prometheus", "zipkin")
# Prometheus 3.16 keeps scraped exemplars only with this feature flag (its `storage.exemplars` config sizes the ring).
EXEMPLAR_STORAGE_FLAG = "--enable-feature=exemplar-storage"
# Prometheus job name -> component (see prometheus/prometheus.yml).
JOBS = {"shop": "shop", "payments": "payments", "inbox": "inbox", "loadgen": "loadgen",
        "pushgateway": "pushgateway", "alertmanager": "alertmanager", "prometheus": "prometheus",
        "node": "node_exporter", "blackbox": "blackbox_exporter", "zipkin": "zipkin"}
# Probe jobs: their targets are URLs of our services, and their scrapes go to this exporter (prometheus.yml).
PROBE_JOBS = {"shop_probe": "blackbox_exporter"}
# Where a component's web UI is, when not at its root (the launcher's banner links it).
UI_PATHS = {"zipkin": "/zipkin/"}
# The services that send spans, and the variable that tells them where (the OpenTelemetry SDK's name for the
# Zipkin exporter's endpoint).
TRACED = ("shop", "payments", "loadgen", "reconcile")
TRACES_VARIABLE = "OTEL_EXPORTER_ZIPKIN_ENDPOINT"
# The load generator starts the demo's traces (its journeys are the roots; shop and payments follow its decision),
# and keeps one journey in five: at the baseline 5 journeys a second every journey would send ~47 spans a second,
# and Zipkin's in-memory store (MEM_MAX_SPANS, sized for the 700 MiB footprint goal) would forget a trace within
# two minutes, before the inbox's "Example traces" link of an alert is clicked; one in five keeps ~9 minutes and
# still a trace a second. A request a person sends (a browser, curl) has no sampled parent and is always traced
# (the services' own TRACING_SAMPLE_RATIO, default 1.0). docker-compose.yml sets the same for its loadgen.
LOADGEN_SAMPLE_RATIO = "0.2"
SAMPLE_RATIO_VARIABLE = "TRACING_SAMPLE_RATIO"  # app/common/tracing.py's (not imported: the launcher stays light)
# The Go programs collect garbage sooner than their defaults (GOGC, the heap's growth past what was live before a
# collection: Go's default 100, Prometheus's own 75 since 2.53), trading a little CPU, at this stack's load, for
# memory (bench part 4, footprint, issue 16). Prometheus at 10: 102 MiB RSS instead of 106 at 25, 114 at 50 and
# 118-122 at its default, for 2.6% of a core instead of 1.5% (36 collections a minute instead of 3; measured
# 2026-11-30 under baseline traffic). Alertmanager and the exporters at 50: ~5 MiB less together. Much of what
# stays is the programs' own code mapped from their files (64 MiB of Prometheus's RSS), which no setting removes.
PROMETHEUS_ENV = {"GOGC": "10"}
GO_ENV = {"GOGC": "50"}
# blackbox_exporter's probe modules (the shop_probe job's shop_journey), the file compose mounts too.
BLACKBOX_CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "blackbox", "blackbox.yml")


@dataclass
class Component:
    """How to run one component."""
    name: str
    command: list
    health_path: str | None = "/healthz"
    env: dict = field(default_factory=dict)


def dashboard_target(stack):
    """Where the inbox's and the console's dashboard links go: Grafana when this stack runs it, else Prometheus's
    graph page with the panels' queries (app/common/dashboard_links.py), so no link is dead."""
    return dashboard_links.GRAFANA if "grafana" in stack.services else dashboard_links.PROMETHEUS


def build(name, stack):
    """The Component for `name` in `stack`, with where to send spans for the services that trace."""
    component = _build(name, stack)
    if name in TRACED:
        component.env[TRACES_VARIABLE] = stack.url("zipkin") + "/api/v2/spans"
    return component


def _build(name, stack):
    """The Component for `name` in `stack` (ports, paths and URLs come from the stack).

    Prometheus, Alertmanager and Grafana are told their public address (`stack.links`), so the links
    they put in alerts and pages point where a browser reaches them, as in compose.
    """
    port = stack.port(name) if name in DEFAULT_PORTS else None
    data = os.path.join(stack.workdir, "data", name)
    os.makedirs(data, exist_ok=True)
    listen = f"127.0.0.1:{port}"
    if name in ("shop", "payments", "inbox"):
        env = {f"{name.upper()}_DATA_DIR": data,
               "PROMETHEUS_MULTIPROC_DIR": os.path.join(stack.workdir, "metrics", name)}
        if name == "inbox":
            env["WEBHOOK_TOKEN"] = stack.webhook_token  # what Alertmanager sends (its credentials_file)
            # The runbooks page's and alerts' links go where this stack really listens (app/inbox/public_links.py).
            env.update(stack.links.public_url_variables(PUBLIC_LINKED))
            env[dashboard_links.VARIABLE] = dashboard_target(stack)
        return Component(name, [PYTHON, "-m", "app.serve", name, "--port", str(port)], env=env)
    if name == "pushgateway":
        # Debian's default persistence file is shared by every Pushgateway on the machine: keep ours private.
        return Component(name, [binaries.find("pushgateway"), f"--web.listen-address={listen}",
                                f"--persistence.file={os.path.join(data, 'pushgateway.data')}"], "/-/ready",
                         env=dict(GO_ENV))
    if name == "node_exporter":
        return Component(name, [binaries.find("node_exporter"), f"--web.listen-address={listen}",
                                f"--collector.textfile.directory={stack.textfile_dir}"], "/metrics", env=dict(GO_ENV))
    if name == "blackbox_exporter":
        return Component(name, [binaries.find("blackbox_exporter"), f"--config.file={BLACKBOX_CONFIG}",
                                f"--web.listen-address={listen}"], "/-/healthy", env=dict(GO_ENV))
    if name == "zipkin":
        return Component(name, zipkin.command(port), "/health", env=zipkin.environment())
    if name == "alertmanager":
        return Component(name, [binaries.find("alertmanager"), f"--config.file={stack.alertmanager_config}",
                                f"--storage.path={data}", f"--web.listen-address={listen}",
                                f"--web.external-url={stack.links.url(name)}", "--cluster.listen-address="],
                         "/-/ready", env=dict(GO_ENV))
    if name == "prometheus":
        return Component(name, [binaries.find("prometheus"), f"--config.file={stack.prometheus_config}",
                                f"--storage.tsdb.path={data}", f"--web.listen-address={listen}",
                                f"--web.external-url={stack.links.url(name)}",
                                # Exactly the loaded SLO profile's budget period: its ratio reads that far back.
                                f"--storage.tsdb.retention.time={slo_spec.loaded_profile().period}",
                                # The exemplars our OpenMetrics /metrics carries (storage.exemplars in prometheus.yml).
                                EXEMPLAR_STORAGE_FLAG], "/-/ready", env=dict(PROMETHEUS_ENV))
    if name == "reconcile":
        return Component(name, [PYTHON, "-m", "app.batch.schedule",
                                "--interval", str(stack.reconcile_interval)], None,
                         env={"TEXTFILE_DIR": stack.textfile_dir})
    if name == "loadgen":
        return Component(name, [PYTHON, "-m", "loadgen", "run", "--port", str(port), "--quiet"], "/metrics",
                         env={"LOADGEN_RATE": str(stack.loadgen_rate), SAMPLE_RATIO_VARIABLE: LOADGEN_SAMPLE_RATIO,
                              dashboard_links.VARIABLE: dashboard_target(stack)})
    if name == "grafana":
        return Component(name, [binaries.find("grafana"), "server",
                                f"--homepath={os.environ.get('GRAFANA_HOME', '/usr/share/grafana')}"], "/api/health",
                         env={"GF_PATHS_PROVISIONING": stack.grafana_provisioning,
                              "GF_PATHS_DATA": data, "GF_SERVER_HTTP_ADDR": "127.0.0.1",
                              "GF_SERVER_HTTP_PORT": str(port), "GF_SERVER_ROOT_URL": stack.links.url(name) + "/",
                              "GF_AUTH_ANONYMOUS_ENABLED": "true",
                              "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
                              "GF_SECURITY_ADMIN_PASSWORD": stack.grafana_admin_password,
                              "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH":
                                  os.path.join(stack.grafana_dashboards, "shop-overview.json")})
    raise ValueError(f"There is no component called {name}; known: {', '.join(ORDER)}.")
