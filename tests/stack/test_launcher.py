"""`make local` starts every component and stops every process it started."""
import os
import signal
import subprocess
import sys

from launcher import components
from launcher.stack import REPO
from processes.ports import free_port, port_open
from processes.waiting import poll_until


def test_make_local_starts_everything_and_stops_every_process_on_sigterm(tmp_path):
    ports = {name: free_port() for name in components.DEFAULT_PORTS}
    env = dict(os.environ, **{components.PORT_VARIABLES[name]: str(port) for name, port in ports.items()},
               LOADGEN_RATE="2", PYTHONPATH=REPO)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    workdir = tmp_path / "local"
    log = open(tmp_path / "make-local.log", "w+")
    launcher = subprocess.Popen([sys.executable, "-m", "launcher", "--workdir", str(workdir), "--fast"], cwd=REPO,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            log.seek(0)
            text = log.read()
            if launcher.poll() is not None:
                raise AssertionError(f"make local exited early:\n{text}")
            return "The stack is up" in text
        poll_until(up, "make local to print that the stack is up", 120)
        log.seek(0)
        printed = log.read()
        running = [name for name in components.ORDER if name != "grafana"]
        for name in running:
            if name in ports:
                assert f"http://127.0.0.1:{ports[name]}" in printed, f"{name}'s URL is not printed"
                assert port_open(ports[name]), f"{name} is not listening"
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
        for name, port in ports.items():
            poll_until(lambda port=port: not port_open(port), f"{name} to stop listening on {port}", 15)
        leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True).stdout.split()
        assert not leftovers, f"processes still running after make local stopped: {leftovers}"
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait(timeout=10)
        log.close()
