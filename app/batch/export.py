"""The reconcile job's metrics and the two ways they leave the process.

The metrics live in a registry of their own (a batch job has no /metrics to
scrape) and are plain values in a custom collector, so they are unaffected by
PROMETHEUS_MULTIPROC_DIR should the job inherit it from a service's
environment.

What a run exports depends on how it ended:
* success: duration, records processed, mismatches, charges without an order, last success time,
  last_run_success=1
* failure: duration, last failure time, last_run_success=0
Both exports keep the metrics a run does not write, so after a failure the
last success time (what the staleness alert watches) is still there.
"""
import os

from prometheus_client import CollectorRegistry, pushadd_to_gateway, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.parser import text_string_to_metric_families

JOB = "reconcile"
PUSH_TIMEOUT_SECONDS = 10
HELP = {
    "reconcile_duration_seconds": "Wall-clock time the last reconcile run took, successful or not.",
    "reconcile_records_processed": "Orders and charges the last successful reconcile run compared.",
    "reconcile_mismatches": "Records the last successful reconcile run could not match "
                            "(charges without an order, orders without a charge, amounts that differ).",
    "reconcile_charges_without_order": "Approved charges the last successful reconcile run found with no order: "
                                       "money taken for nothing, to refund (flagged by ShopChargesWithoutOrder).",
    "reconcile_last_success_timestamp_seconds": "Unix time the last successful reconcile run finished.",
    "reconcile_last_failure_timestamp_seconds": "Unix time the last failed reconcile run finished.",
    "reconcile_last_run_success": "1 if the last reconcile run succeeded, 0 if it failed.",
}


class _Snapshot:
    """A collector exposing fixed gauge values."""

    def __init__(self, values):
        self.values = values

    def collect(self):
        """One gauge family per value."""
        for name, value in sorted(self.values.items()):
            yield GaugeMetricFamily(name, HELP[name], value=value)


def run_values(succeeded, finished_at, duration, comparison=None):
    """The metric values one run writes (see the module docstring for which)."""
    values = {"reconcile_duration_seconds": duration, "reconcile_last_run_success": 1.0 if succeeded else 0.0}
    if succeeded:
        values["reconcile_records_processed"] = comparison.records_processed
        values["reconcile_mismatches"] = comparison.mismatch_count
        values["reconcile_charges_without_order"] = comparison.mismatches["charge_without_order"]
        values["reconcile_last_success_timestamp_seconds"] = finished_at
    else:
        values["reconcile_last_failure_timestamp_seconds"] = finished_at
    return values


def registry_for(values):
    """A fresh registry holding exactly these values."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Snapshot(values))
    return registry


def push(gateway_url, values, timeout=PUSH_TIMEOUT_SECONDS):
    """Send this run's values to the Pushgateway's group {job="reconcile"}.

    pushadd (HTTP POST) replaces only the metric names in this push and leaves
    the group's other metrics alone; push (PUT) would replace the whole group,
    and a failed run would wipe reconcile_last_success_timestamp_seconds,
    turning "the job is failing" into "the job has never run". The Pushgateway
    adds push_time_seconds / push_failure_time_seconds to the group itself.
    """
    pushadd_to_gateway(gateway_url, job=JOB, registry=registry_for(values), timeout=timeout)


def previous_textfile_values(path):
    """Our metric values from an earlier textfile, or {} if there is none (or it is unreadable)."""
    try:
        with open(path, encoding="utf-8") as previous:
            text = previous.read()
        return {sample.name: sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples if sample.name in HELP}
    except (OSError, ValueError):
        return {}


def write_textfile(path, values):
    """Write the textfile atomically (temp file + rename), keeping values this run does not write.

    node_exporter's textfile collector must never read a half-written file;
    write_to_textfile writes `<path>.<pid>.<thread>` (ignored: it does not end
    in .prom) and renames it over the old file.
    """
    merged = {**previous_textfile_values(path), **values}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_to_textfile(path, registry_for(merged))
