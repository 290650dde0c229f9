"""What a browser gets from the natively built Prometheus and Alertmanager (launcher/upstream.py, upstream_ui.py).

The README's URL table promises these pages: Prometheus 3's own UI (built from its module's source and embedded),
no `/classic/` pages; Alertmanager's `/` is a page that says why its Elm UI is missing and links the API.
"""
import pytest
import requests

from launcher import binaries
from processes.managed import ManagedProcess
from processes.ports import free_port
from processes.waiting import poll_until

MINIMAL_PROMETHEUS_CONFIG = "global:\n  scrape_interval: 15s\n"
MINIMAL_ALERTMANAGER_CONFIG = "route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n"


@pytest.fixture
def started(tmp_path):
    """start(name, command_after_the_binary) -> base URL of a program on a free loopback port, stopped at the end."""
    processes = []

    def start(name, arguments):
        port = free_port()
        command = [binaries.find(name), *arguments(port)]
        processes.append(ManagedProcess(name, command, None, str(tmp_path / f"{name}.log")).start())
        url = f"http://127.0.0.1:{port}"
        poll_until(lambda: requests.get(url + "/-/ready", timeout=1).ok, f"{name} to be ready", 30)
        return url

    yield start
    for process in processes:
        process.stop()


def test_prometheus_serves_its_own_web_ui_and_no_classic_pages(tmp_path, started):
    """/query, /alerts, /rules and /targets are the React UI with its assets; /graph redirects; /classic is gone."""
    config = tmp_path / "prometheus.yml"
    config.write_text(MINIMAL_PROMETHEUS_CONFIG)
    url = started("prometheus", lambda port: [f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                              f"--web.listen-address=127.0.0.1:{port}"])
    for page in ("/query", "/alerts", "/rules", "/targets"):
        response = requests.get(url + page, timeout=10)
        assert response.status_code == 200, f"{page}: {response.status_code} {response.text[:200]}"
        assert "assets/index-" in response.text, f"{page} is not the built UI (placeholder?): {response.text[:300]}"
    index = requests.get(url + "/query", timeout=10).text
    script = index.split('src="./assets/', 1)[1].split('"', 1)[0]
    assert requests.get(f"{url}/assets/{script}", timeout=10).ok, "the UI's script is not embedded"
    assert requests.get(url + "/graph", timeout=10, allow_redirects=False).headers["Location"].startswith("/query")
    assert requests.get(url + "/classic/targets", timeout=10).status_code == 404


def test_alertmanager_root_explains_the_missing_ui_and_links_the_api(tmp_path, started):
    """Alertmanager's / says why there is no UI in this build and where to look instead."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(MINIMAL_ALERTMANAGER_CONFIG)
    url = started("alertmanager", lambda port: [f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="])
    response = requests.get(url + "/", timeout=10)
    assert response.status_code == 200 and "text/html" in response.headers["Content-Type"]
    assert "no web UI in this build" in response.text and 'href="api/v2/alerts"' in response.text
    assert requests.get(url + "/api/v2/alerts", timeout=10).json() == []
