"""The reconcile batch job's trace: one root span per run, a child per integration point, flushed before it exits.

shop and payments under gunicorn and the reconcile job all send Zipkin JSON v2 to a local receiver (a real
HTTP server, as Zipkin's server accepts it); the job pushes to a real Pushgateway and writes a textfile. The
job's spans must be at the receiver the moment the process has exited: it is short-lived, and a span still
queued in its batch processor (5 s schedule) would be lost. The shop's and payments' server spans of the two
export reads must be children of the job's client spans (W3C traceparent). And not only thanks to the SDK's
own at-exit hook: when `main()` returns, the run's spans have been sent.
"""
import os
import signal

import pytest
import requests

from app.batch import reconcile as reconcile_job
from app.batch import spans as batch_spans
from processes.waiting import poll_until
from tests.helpers.batch_runs import reconcile
from tests.helpers.servers import pushgateway, shop_and_payments
from tests.helpers.span_receiver import by_service, traced_services_env

TOKEN = "batch-tracing-token"
CARD = "4242424242424242"
CHILDREN = {"payments charges": "CLIENT", "shop orders": "CLIENT", "compare": None, "pushgateway push": "CLIENT",
            "textfile write": None}  # name -> Zipkin kind (None: an internal span has no kind)


@pytest.fixture(scope="module")
def services(tmp_path_factory, receiver):
    """Traced shop and payments (no random declines), and a Pushgateway: {"shop", "payments", "pushgateway", ...}."""
    endpoint, _ = receiver
    shop_env, payments_env = traced_services_env(endpoint)
    workdir = str(tmp_path_factory.mktemp("batch-tracing"))
    with pushgateway(workdir) as gateway, \
            shop_and_payments(workdir, TOKEN, payments_env=payments_env, shop_env=shop_env,
                              workers=1) as running:
        yield {**running, "pushgateway": gateway}


def test_a_run_is_one_trace_flushed_before_the_job_exits(services, receiver, tmp_path, monkeypatch):
    endpoint, spans = receiver
    shop = services["shop"]
    cart = requests.post(shop + "/api/carts", timeout=10).json()["id"]
    requests.post(f"{shop}/api/carts/{cart}/items", json={"product_id": 1, "quantity": 1}, timeout=10)
    assert requests.post(f"{shop}/api/carts/{cart}/checkout", json={"card_number": CARD}, timeout=10).status_code == 201
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", endpoint)
    run = reconcile(services, "--pushgateway", services["pushgateway"], "--textfile", str(tmp_path / "reconcile.prom"))
    assert run.returncode == 0, run.stderr

    # No waiting: the job exported its spans before it exited.
    mine = by_service(spans, "reconcile")
    roots = [span for span in mine if span["name"] == "reconcile run"]
    assert len(roots) == 1, f"expected one root span `reconcile run`, the job sent {sorted(s['name'] for s in mine)}"
    root = roots[0]
    assert "parentId" not in root and root["tags"]["exit_code"] == "0"
    children = {span["name"]: span for span in mine if span is not root}
    assert set(children) == set(CHILDREN), sorted(children)
    for name, kind in CHILDREN.items():
        child = children[name]
        assert child["traceId"] == root["traceId"] and child["parentId"] == root["id"], name
        assert child.get("kind") == kind, f"{name} has kind {child.get('kind')}, not {kind}"

    # The services' server spans of the two reads hang below the job's client spans.
    os.kill(services["shop_process"].pid, signal.SIGHUP)  # worker_exit flushes their queued spans
    os.kill(services["payments_process"].pid, signal.SIGHUP)
    wanted = {("shop", "get /api/orders"): children["shop orders"]["id"],
              ("payments", "get /charges"): children["payments charges"]["id"]}

    def servers_below_the_reads():
        seen = {(span["localEndpoint"]["serviceName"], span["name"].lower()): span.get("parentId")
                for span in list(spans) if span["traceId"] == root["traceId"]}
        return all(seen.get(key) == parent for key, parent in wanted.items())
    poll_until(servers_below_the_reads, "the shop's and payments' server spans below the job's reads", 30)


def test_main_returns_with_the_runs_spans_sent(services, receiver, tmp_path, monkeypatch):
    endpoint, spans = receiver
    monkeypatch.setattr(batch_spans.TRACING, "endpoint", endpoint)  # in this process, as the environment would
    monkeypatch.setattr(batch_spans.TRACING, "ratio", 1.0)
    before = len(spans)
    code = reconcile_job.main(["--shop-url", services["shop"], "--payments-url", services["payments"],
                               "--textfile", str(tmp_path / "reconcile.prom"), "--settle-seconds", "0"])
    assert code == reconcile_job.EXIT_OK
    sent = [span["name"] for span in by_service(spans[before:], "reconcile")]
    assert "reconcile run" in sent, f"main() returned with the run's root span still queued (sent: {sent})"
