"""Exemplars with real gunicorn: a sampled request's trace id comes back in an OpenMetrics scrape.

shop and payments under gunicorn (2 workers each, the shop's recycled every ~40 requests): requests
carry a W3C `traceparent`; a scrape with `Accept: application/openmetrics-text` shows exemplars
whose trace ids are those of requests sent, for the request histogram and for the shop's calls to
payments; the text format shows none; the exemplar files stay bounded through the worker restarts.
"""
import glob
import os
import signal
import uuid

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from app.common import exemplar_files
from grafana import model
from processes.waiting import poll_until
from tests.helpers.servers import shop_and_payments

TOKEN = "exemplars-token"
CARD = "4242424242424242"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    with shop_and_payments(str(tmp_path_factory.mktemp("exemplars")), TOKEN, shop_max_requests=40) as services:
        yield services


def traced(session, method, url, sent, sampled=True, **kwargs):
    """A request with a fresh traceparent (sampled or not); the trace id is remembered in `sent`."""
    trace_id = uuid.uuid4().hex
    sent.setdefault(sampled, set()).add(trace_id)
    headers = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-{'01' if sampled else '00'}"}
    return session.request(method, url, headers=headers, timeout=10, **kwargs)


def exemplars(url):
    """{(sample name, labels): trace id} of an OpenMetrics scrape, read by prometheus_client's parser."""
    response = requests.get(url + "/metrics", headers={"Accept": OPENMETRICS}, timeout=10)
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    return {(sample.name, frozenset(sample.labels.items())): sample.exemplar.labels["trace_id"]
            for family in text_string_to_metric_families(response.text) for sample in family.samples
            if sample.exemplar is not None}


def test_an_openmetrics_scrape_shows_exemplars_of_sampled_requests(services):
    shop, sent = services["shop"], {}
    session = requests.Session()
    for round_ in range(30):
        assert traced(session, "GET", shop + "/api/products", sent).ok
        traced(session, "GET", shop + "/api/products/1", sent, sampled=False)
        cart = traced(session, "POST", shop + "/api/carts", sent).json()["id"]
        traced(session, "POST", f"{shop}/api/carts/{cart}/items", sent, json={"product_id": 1, "quantity": 1})
        traced(session, "POST", f"{shop}/api/carts/{cart}/checkout", sent, json={"card_number": CARD})
        if round_ == 15:
            os.kill(services["shop_process"].pid, signal.SIGHUP)  # every worker replaced: files compacted
    found = exemplars(shop)
    request_ids = {trace for (name, _labels), trace in found.items()
                   if name == "shop_http_request_duration_seconds_bucket"}
    dependency_ids = {trace for (name, labels), trace in found.items()
                      if name == "shop_dependency_request_duration_seconds_bucket"
                      and dict(labels)["operation"] == "charge"}
    assert request_ids and request_ids <= sent[True], "request exemplars must carry sampled requests' trace ids"
    assert dependency_ids and dependency_ids <= sent[True], "the payments call's exemplar carries its request's id"
    assert not request_ids & sent[False], "an unsampled request never becomes an exemplar"
    text = requests.get(shop + "/metrics", timeout=10)
    assert text.headers["Content-Type"].startswith("text/plain") and "trace_id" not in text.text


def test_exemplar_files_stay_bounded_through_worker_restarts(services):
    shop, sent = services["shop"], {}
    session = requests.Session()
    directory = os.path.join(services["workdir"], "metrics-shop")
    for _ in range(200):  # ~5 restarts of each worker at 40 requests
        traced(session, "GET", shop + "/api/products", sent)

    def bounded():
        files = exemplar_files.files(directory)
        names = {os.path.basename(name) for name in files}
        # The live workers' files (2, plus one being replaced) and the archive.
        return len(files) <= 4 and exemplar_files.ARCHIVE in names and files
    poll_until(bounded, "the dead workers' exemplar files to be folded into the archive", 15)
    assert len(glob.glob(os.path.join(directory, "histogram_*.db"))) <= 4
    products = {trace for (name, labels), trace in exemplars(shop).items()
                if name == "shop_http_request_duration_seconds_bucket" and dict(labels)["route"] == "/api/products"}
    assert products & sent[True], "the most recent requests' exemplars win over older ones"


def test_the_dashboards_draw_exemplars_from_exactly_the_histograms_that_carry_them(services):
    """grafana/model.py's EXEMPLAR_HISTOGRAMS decides which latency panels ask for exemplars: it must name every
    histogram whose buckets carry one in the services' OpenMetrics scrapes, and no other."""
    session, sent = requests.Session(), {}
    cart = traced(session, "POST", services["shop"] + "/api/carts", sent).json()["id"]
    traced(session, "POST", f"{services['shop']}/api/carts/{cart}/items", sent, json={"product_id": 1, "quantity": 1})
    assert traced(session, "POST", f"{services['shop']}/api/carts/{cart}/checkout", sent,
                  json={"card_number": CARD}).status_code in (201, 402)  # either way payments was called
    carrying = {name.removesuffix("_bucket") for url in (services["shop"], services["payments"])
                for name, _labels in exemplars(url)}
    assert carrying == set(model.EXEMPLAR_HISTOGRAMS)
