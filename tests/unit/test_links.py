"""Public addresses: the published ports of .env, and the links built on them (prometheus/links.py)."""
import re

import pytest

from prometheus import links
from tests.helpers.paths import REPO

COMPONENTS = {"shop", "payments", "inbox", "loadgen", "prometheus", "alertmanager", "pushgateway", "node_exporter",
              "grafana", "blackbox_exporter", "zipkin"}


def test_published_ports_are_the_host_port_lines_of_the_env_file():
    lines = re.findall(r"^([A-Z_]+)_HOST_PORT=(\d+)$", (REPO / ".env").read_text(), flags=re.MULTILINE)
    assert links.published_ports() == {name.lower(): int(port) for name, port in lines}
    assert set(links.published_ports()) == COMPONENTS


def test_ports_are_read_past_comments_and_other_settings(tmp_path):
    env = tmp_path / ".env"
    env.write_text("# INBOX_HOST_PORT=1\nPUBLISH_ADDRESS=127.0.0.1\n\n"
                   " INBOX_HOST_PORT = 18002 \nNODE_EXPORTER_HOST_PORT=19100\n")
    assert links.published_ports(env) == {"inbox": 18002, "node_exporter": 19100}
    assert links.published(env).url("inbox") == "http://localhost:18002"


@pytest.mark.parametrize("text, message", [
    ("SHOP_HOST_PORT=8000\nINBOX_HOST_PORT=eight\n", r"\.env:2: INBOX_HOST_PORT is 'eight', not a port number"),
    ("PUBLISH_ADDRESS=127.0.0.1\n", r"publishes no port"),
])
def test_an_env_file_without_usable_ports_is_an_error_that_says_where(tmp_path, text, message):
    env = tmp_path / ".env"
    env.write_text(text)
    with pytest.raises(links.LinksError, match=message):
        links.published_ports(env)


def test_links_are_built_on_the_port_of_each_component():
    site = links.Links({"inbox": 18002, "loadgen": 18089})
    assert site.url("loadgen") == "http://localhost:18089"
    assert site.runbooks == "http://localhost:18002/runbooks"
    assert site.runbook("ShopPaymentsErrorRatioHigh") == "http://localhost:18002/runbooks#shoppaymentserrorratiohigh"
    with pytest.raises(links.LinksError, match="No port is published for grafana; known: inbox, loadgen"):
        site.url("grafana")
