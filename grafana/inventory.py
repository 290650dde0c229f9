"""Every metric name a dashboard may query, collected from where each is declared.

- our services: the prometheus_client objects in app/<service>/metrics.py and
  loadgen/metrics.py (a counter `x` is exposed as `x_total`, a histogram as
  `x_bucket`, `x_sum`, `x_count`);
- the reconcile batch job: the gauges it pushes (app/batch/export.py);
- our rules: every `record:` in the rule files prometheus/prometheus.yml loads;
- other programs: the few names we use from Prometheus, Alertmanager, the
  Pushgateway, node_exporter and blackbox_exporter, listed here by hand.
"""
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = REPO / "prometheus"
SERVICE_METRIC_MODULES = ("app.shop.metrics", "app.payments.metrics", "app.inbox.metrics")
# Series other programs produce, by program; only the ones our dashboards use.
EXTERNAL = {
    "prometheus": {"up", "scrape_duration_seconds", "ALERTS", "prometheus_rule_evaluation_failures_total",
                   "prometheus_notifications_errors_total", "prometheus_notifications_sent_total",
                   "prometheus_config_last_reload_successful"},
    "alertmanager": {"alertmanager_notifications_total", "alertmanager_notifications_failed_total",
                     "alertmanager_config_last_reload_successful"},
    "pushgateway": {"push_time_seconds", "push_failure_time_seconds"},
    "node_exporter": {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"},
    "blackbox_exporter": {"probe_success", "probe_duration_seconds"},
}
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",),
             "summary": ("_sum", "_count", "")}


def exposed_names(metric):
    """The series names a prometheus_client metric object exposes."""
    names = set()
    for family in metric.describe():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def _metrics_in(namespace):
    """The prometheus_client metric objects among a module's or an object's attributes."""
    from prometheus_client.metrics import MetricWrapperBase

    from app.common.scrape_time import ScrapeTimeInfo
    return [value for value in vars(namespace).values() if isinstance(value, MetricWrapperBase | ScrapeTimeInfo)]


def service_metrics():
    """Names our services and the load generator expose."""
    import importlib

    from loadgen.metrics import LoadgenMetrics
    names = set()
    for namespace in [importlib.import_module(m) for m in SERVICE_METRIC_MODULES] + [LoadgenMetrics()]:
        for metric in _metrics_in(namespace):
            names |= exposed_names(metric)
    return names


def batch_metrics():
    """Names the reconcile batch job pushes (and writes to its textfile)."""
    from app.batch.export import HELP
    return set(HELP)


def recorded_metrics(prometheus_config=PROMETHEUS_DIR / "prometheus.yml"):
    """`record:` names of every rule file Prometheus loads."""
    config = yaml.safe_load(Path(prometheus_config).read_text())
    names = set()
    for rule_file in config.get("rule_files", []):
        rules = yaml.safe_load((Path(prometheus_config).parent / rule_file).read_text())
        names.update(rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule)
    return names


def known_metrics():
    """Every metric name a dashboard may use."""
    external = set().union(*EXTERNAL.values())
    return service_metrics() | batch_metrics() | recorded_metrics() | external
