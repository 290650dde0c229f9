"""The load generator's copies of the stack's addresses match their one source (.env via prometheus/links.py).

The loadgen image carries neither .env nor prometheus/, so its defaults and
its runbook pattern are copies; these tests hold them to the source.
"""
from urllib.parse import urlsplit

import pytest

from loadgen.catalog import load_catalog
from loadgen.config import Urls
from loadgen.console.links import Links as ConsoleLinks
from prometheus.links import published

PUBLISHED = published()


def loopback_as_localhost(url):
    """127.0.0.1 and localhost are one address for a browser on the machine."""
    return url.replace("://127.0.0.1:", "://localhost:")


@pytest.mark.parametrize("component", ["shop", "payments", "inbox", "prometheus", "alertmanager", "grafana",
                                       "loadgen"])
def test_default_urls_use_the_published_ports(component):
    default = getattr(Urls(), component)
    assert urlsplit(default).port == PUBLISHED.ports[component], (
        f"loadgen's default {component} URL {default} is not on the port .env publishes")


@pytest.mark.parametrize("urls", [Urls(), Urls(inbox_public=PUBLISHED.url("inbox"))], ids=["defaults", "public"])
def test_console_runbook_links_are_the_ones_the_rules_carry(urls):
    links = ConsoleLinks(urls, load_catalog())
    for alert in ("ShopPaymentsErrorRatioHigh", "ShopTargetDown"):
        assert loopback_as_localhost(links.runbook(alert)) == PUBLISHED.runbook(alert)
    assert loopback_as_localhost(links.dashboard("shop-overview")) == f"{PUBLISHED.url('grafana')}/d/shop-overview"


@pytest.mark.parametrize("urls, inbox, grafana", [
    (Urls(inbox="http://127.0.0.1:28002", grafana="http://127.0.0.1:23000"), "http://127.0.0.1:28002",
     "http://127.0.0.1:23000"),  # `make local` on shifted ports, its export lines applied
    (Urls(inbox="http://inbox:8002", inbox_public="http://localhost:28002", grafana="http://localhost:23000"),
     "http://localhost:28002", "http://localhost:23000"),  # inside compose, ports shifted in .env
], ids=["native", "compose"])
def test_trigger_names_the_inbox_and_dashboard_a_browser_reaches(urls, inbox, grafana):
    from loadgen.cli import trigger_message
    catalog = load_catalog()
    message = trigger_message(catalog["payments-errors"], 120, urls, catalog)
    assert f"in the inbox ({inbox})" in message and f"{grafana}/d/shop-dependencies" in message, message
    assert ":8002" not in message.replace(inbox, "") and "inbox:" not in message.replace(inbox, "")
