"""The reconcile batch job on the native stack: both of its exports reach Prometheus."""
import json
import os

from processes.waiting import poll_until
from tests.helpers.batch_runs import reconcile
from tests.helpers.prometheus_api import instant_query


def test_a_run_against_the_native_pushgateway_is_visible_in_prometheus(native_stack):
    stack = native_stack
    services = {"shop": stack.url("shop"), "payments": stack.url("payments")}
    run = reconcile(services, "--pushgateway", stack.url("pushgateway"),
                    "--textfile", os.path.join(stack.textfile_dir, "reconcile.prom"))
    assert run.returncode == 0, run.stderr
    finished = json.loads(run.stdout.splitlines()[-1])["ts"] - 1  # log time is rounded to ms

    def seen(job):
        """This run's (or a later scheduled run's) success, as Prometheus scraped it for `job`."""
        return instant_query(stack.url("prometheus"),
                             f'reconcile_last_success_timestamp_seconds{{job="{job}"}} >= {finished}'
                             f' and on() reconcile_last_run_success{{job="{job}"}} == 1')
    # Through the Pushgateway (honor_labels keeps job="reconcile") and through node_exporter's textfile collector.
    for job in ("reconcile", "node"):
        poll_until(lambda job=job: seen(job), f"Prometheus to scrape the run's success from job {job}", 30)
    for name in ("reconcile_duration_seconds", "reconcile_records_processed", "reconcile_mismatches"):
        assert instant_query(stack.url("prometheus"), f'{name}{{job="reconcile"}}'), name
