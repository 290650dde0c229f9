"""The inbox's links point where a browser reaches a stack on shifted ports (app/inbox/public_links.py).

The runbooks page (docs/runbooks.md) and every alert's runbook_url name the default published
ports; with SHOP_PORT=28000-style shifts the inbox swaps them for its configured public addresses.
"""
import re

import pytest

from app.inbox import create_app, public_links
from prometheus.links import published
from tests.helpers.alert_payloads import alert, payload
from tests.helpers.paths import REPO

WEBHOOK_TOKEN = "public-links-test-token"
SHIFTED = {"INBOX_PUBLIC_URL": "http://localhost:28002", "GRAFANA_PUBLIC_URL": "http://localhost:23000",
           "PROMETHEUS_PUBLIC_URL": "http://localhost:29090"}


@pytest.fixture
def shifted_client(tmp_path):
    """An inbox told the public addresses of a stack on shifted ports, serving the repository's runbooks."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                      "RUNBOOKS_PATH": str(REPO / "docs" / "runbooks.md"), **SHIFTED})
    return app.test_client()


def default_links(html):
    """Links in a page to the default published ports of the inbox, Grafana or Prometheus."""
    return re.findall(r"http://localhost:(?:8002|3000|9090)(?![0-9])[^\s\"<)]*", html)


def test_the_document_bases_are_the_published_ports_of_env():
    """The image's copy of the default public URLs matches the one source (.env via prometheus/links.py)."""
    links = published()
    assert public_links.DOCUMENT_BASES == {name: links.url(name) for name in public_links.DOCUMENT_BASES}


def test_the_runbooks_page_links_to_the_shifted_grafana_prometheus_and_inbox(shifted_client):
    html = shifted_client.get("/runbooks").get_data(as_text=True)
    assert default_links(html) == []
    assert 'href="http://localhost:23000/d/shop-overview"' in html
    assert "http://localhost:29090" in html


def test_an_alerts_runbook_link_points_at_the_shifted_inbox(shifted_client):
    runbook = published().runbook("ShopOrdersDropped")  # what the committed rule files carry
    shifted_client.post("/webhook", json=payload(alert("ShopOrdersDropped", runbook_url=runbook)),
                        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    html = shifted_client.get("/").get_data(as_text=True)
    assert 'href="http://localhost:28002/runbooks#shopordersdropped"' in html
    assert default_links(html) == []


def test_without_a_public_address_the_inbox_links_to_itself_where_the_browser_found_it(tmp_path):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "inbox"), "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
                      "RUNBOOKS_PATH": str(REPO / "docs" / "runbooks.md")})
    html = app.test_client().get("/runbooks", base_url="http://127.0.0.1:18002").get_data(as_text=True)
    assert "http://127.0.0.1:18002/runbooks#shoppaymentserrorratiohigh" in html
    assert "localhost:8002" not in html


def test_a_longer_port_is_not_a_base_to_swap():
    swaps = public_links.public_bases(SHIFTED)
    assert public_links.retarget("http://localhost:30001/x http://localhost:3000/d/a", swaps) == \
        "http://localhost:30001/x http://localhost:23000/d/a"


def test_swaps_happen_once_even_when_a_public_base_is_another_default():
    swaps = public_links.public_bases({"GRAFANA_PUBLIC_URL": "http://localhost:9090",
                                       "PROMETHEUS_PUBLIC_URL": "http://localhost:19090"})
    assert public_links.retarget("http://localhost:3000/d/x http://localhost:9090/graph", swaps) == \
        "http://localhost:9090/d/x http://localhost:19090/graph"
