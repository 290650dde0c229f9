"""The pinned Prometheus stores the exemplars of our gunicorn shop: a sampled request's trace id in query_exemplars.

The shop under gunicorn, the pinned Prometheus started as the launcher starts it (its exemplar flag, the
`storage` and `scrape_protocols` of prometheus/prometheus.yml) scraping only the shop every second.
"""
import os
import time
import uuid

import pytest
import requests
import yaml

from launcher import binaries, components
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until
from tests.helpers.rule_files import PROMETHEUS_DIR, load_yaml
from tests.helpers.servers import shop_and_payments

TOKEN = "prometheus-exemplars-token"


@pytest.fixture(scope="module")
def shop_and_prometheus(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus-exemplars")
    with shop_and_payments(str(workdir), TOKEN) as services:
        compose = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
        config = {"global": {**compose["global"], "scrape_interval": "1s", "scrape_timeout": "1s"},
                  "storage": compose["storage"],
                  "scrape_configs": [{"job_name": "shop", "static_configs": [
                      {"targets": [services["shop"].removeprefix("http://")]}]}]}
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        prometheus = ManagedProcess("prometheus", [
            binaries.find("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
            components.EXEMPLAR_STORAGE_FLAG], dict(os.environ), str(workdir / "prometheus.log")).start()
        try:
            url = f"http://127.0.0.1:{port}"
            poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, "Prometheus to be ready", 30)
            yield services["shop"], url, prometheus
        finally:
            prometheus.stop()


def test_prometheus_stores_the_exemplar_of_a_sampled_request(shop_and_prometheus):
    shop, prometheus, process = shop_and_prometheus
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"

    def stored():
        # Keep the request fresh: the most recent one of its bucket wins in the shop's files.
        requests.get(shop + "/api/products", headers={"traceparent": traceparent}, timeout=5)
        now = time.time()
        answer = requests.get(prometheus + "/api/v1/query_exemplars", timeout=5, params={
            "query": 'shop_http_request_duration_seconds_bucket{route="/api/products"}',
            "start": now - 300, "end": now + 60}).json()
        assert answer["status"] == "success", answer
        return [exemplar for series in answer["data"] for exemplar in series["exemplars"]
                if exemplar["labels"].get("trace_id") == trace_id]
    try:
        found = poll_until(stored, "Prometheus to store an exemplar with the request's trace id", 30)
    except AssertionError:
        raise AssertionError(f"no exemplar stored; Prometheus log:\n{process.log_tail()}") from None
    assert float(found[0]["value"]) > 0
