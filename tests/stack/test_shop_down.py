"""shop-down on `make local`: the launcher stops the shop when the scenario starts, ShopNoHealthyTarget fires,
and when the scenario is stopped the shop answers again and the alert resolves. A launcher stopped while the
shop is held down leaves nothing behind.

The scenario is started the way a person would: `loadgen trigger` in another shell, after the `export` lines
the launcher prints (so through the running load generator, as the console does).
"""
import shlex
import signal
import subprocess
import sys

import pytest
import requests

from launcher.stack import REPO
from processes.ports import port_open
from processes.waiting import poll_until
from tests.stack.test_launcher import Launch

ALERT = "ShopNoHealthyTarget"
FIRE_SECONDS = 90  # the bound: it pages within 90 s (the rule waits 30 s)
BACK_SECONDS = 60
CLI_SECONDS = 60


@pytest.fixture
def launch(tmp_path):
    """A fast `python -m launcher` on free ports; whatever it leaves is killed by id afterwards, pass or fail."""
    started = Launch(tmp_path, via_make=False)
    yield started
    started.kill_everything()


def exported(output):
    """The variables of the `export` lines the launcher printed for another shell."""
    env = {}
    for line in output.splitlines():
        words = shlex.split(line.strip()) if line.strip().startswith("export ") else []
        env.update(word.split("=", 1) for word in words[1:])
    return env


def loadgen(launch, *args):
    """`python -m loadgen ARGS` in a shell that evaluated the launcher's export lines."""
    env = dict(launch.env, **exported(launch.output()))
    result = subprocess.run([sys.executable, "-m", "loadgen", *args], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=CLI_SECONDS)
    assert result.returncode == 0, f"loadgen {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def alert_states(launch):
    """{state} of ALERT in Prometheus right now (empty when it is neither pending nor firing)."""
    response = requests.get(f"http://127.0.0.1:{launch.ports['prometheus']}/api/v1/alerts", timeout=5)
    response.raise_for_status()
    return {a["state"] for a in response.json()["data"]["alerts"] if a["labels"]["alertname"] == ALERT}


def shop_healthy(launch):
    return requests.get(f"http://127.0.0.1:{launch.ports['shop']}/healthz", timeout=2).ok


@pytest.mark.timeout(300)
def test_shop_down_stops_the_shop_pages_and_resolves_when_it_is_back(launch):
    launch.wait_up()
    assert "export STACK_CONTROL_DIR=" in launch.output()
    said = loadgen(launch, "trigger", "shop-down")
    assert said.startswith("Started shop-down for ") and ALERT in said, said
    poll_until(lambda: not port_open(launch.ports["shop"]), "the shop's port to stop answering", 20)
    poll_until(lambda: "shop stopped by scenario shop-down until " in launch.output(),
               "the launcher to say it stopped the shop", 5)
    poll_until(lambda: alert_states(launch) == {"firing"}, f"{ALERT} to fire in Prometheus", FIRE_SECONDS, interval=1)
    assert launch.process.poll() is None, f"the launcher stopped:\n{launch.output()}"
    assert "stopped unexpectedly" not in launch.output()

    assert loadgen(launch, "clear", "shop-down").strip() == "Stopped shop-down."
    poll_until(lambda: shop_healthy(launch), "the shop to answer again", BACK_SECONDS)
    # The launcher says so once its own health check passed, a moment after ours may have.
    poll_until(lambda: "shop started again after scenario shop-down" in launch.output(),
               "the launcher to say it started the shop again", 10)
    poll_until(lambda: not alert_states(launch), f"{ALERT} to resolve in Prometheus", BACK_SECONDS, interval=1)

    # Held down when the launcher is stopped: the shop is simply not running, nothing is left behind.
    loadgen(launch, "trigger", "shop-down", "--duration", "60")
    poll_until(lambda: launch.output().count("shop stopped by scenario shop-down") == 2,
               "the launcher to stop the shop a second time", 20)
    launch.process.send_signal(signal.SIGTERM)
    launch.assert_nothing_left("SIGTERM to the launcher while the shop is held down")
    assert launch.process.wait(timeout=10) == 0
    assert "shop started again" not in launch.output().split("shop stopped by scenario shop-down")[-1]
