"""`make local` starts every component, refuses to start over a running stack or a busy port, and
leaves no process behind however it is stopped.

Every case starts a real fast stack on free ports. Its processes are found by a
mark in their environment (each one inherits it from the launcher) and by their
output going to the stack's work directory (gunicorn's process titles overwrite
the environment as /proc shows it), not by parentage: an orphan has parent 1.
The group signals go through `make local` itself, because make forwards a
SIGTERM to the launcher a second time (issue 13: the cleanup was cut short and
8 processes kept the ports in 2 of 3 tries).
"""
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from launcher import binaries, components
from launcher.stack import REPO
from processes.ports import free_port, port_bindable, port_holders, port_open
from processes.waiting import poll_until

MARK = "LAUNCHER_TEST_MARK"
UP_SECONDS = 120
GONE_SECONDS = 15  # the bound: nothing of the stack left 15 s after the signal
REFUSAL_SECONDS = 60  # a refused launch (make checks the venv and OS programs first) ends well within this


def live_processes():
    """The pids of the processes that have not exited (zombies have), from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as source:
                if source.read().rsplit(")", 1)[1].split()[0] != "Z":
                    pids.append(int(entry))
        except OSError:  # gone meanwhile
            continue
    return pids


def has_mark(pid, mark):
    """True when the process's environment carries the test's mark."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as source:
            return f"{MARK}={mark}".encode() in source.read().split(b"\0")
    except OSError:
        return False


def writes_under(pid, directory):
    """True when one of the process's open files is inside `directory` (the stack's logs)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(directory + os.sep):
                return True
        except OSError:
            continue
    return False


def command_line(pid):
    """A process's command line (or process title)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as source:
            return source.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


class Launch:
    """`make local` (or `python -m launcher`) in its own session, with the stack on free ports."""

    def __init__(self, tmp_path, via_make, workdir=None, ports=None, mark=None, name="local"):
        self.ports = ports or {name: free_port() for name in components.DEFAULT_PORTS}
        self.mark = mark or uuid.uuid4().hex
        self.workdir = workdir or tmp_path / name
        self.env = dict(os.environ, **{components.PORT_VARIABLES[n]: str(p) for n, p in self.ports.items()},
                        LOADGEN_RATE="2", PYTHONPATH=REPO, **{MARK: self.mark})
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env.pop("MAKEFLAGS", None)
        if via_make:
            command = ["make", "--no-print-directory", "local", f"LAUNCHER_ARGS=--workdir {self.workdir} --fast"]
        else:
            command = [sys.executable, "-m", "launcher", "--workdir", str(self.workdir), "--fast"]
        self.log_path = tmp_path / f"{name}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self):
        """Everything make and the launcher printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_up(self):
        """Wait for the banner, and learn which processes are the stack's."""
        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"make local exited early:\n{self.output()}")
            return "The stack is up" in self.output()
        poll_until(up, "make local to print that the stack is up", UP_SECONDS)
        running = self.stack_processes()
        for name, port in self.ports.items():
            if name != "grafana" or binaries.optional("grafana"):
                holders = {pid for pid, _command in port_holders(port)}
                assert holders and holders <= set(running), f"{name}'s processes escape the test's view: {holders}"
        assert any("app.batch.schedule" in command for command in running.values()), running

    def stack_processes(self):
        """{pid: command line} of the live processes of this launch: marked, or writing into its work directory."""
        return {pid: command_line(pid) for pid in live_processes()
                if has_mark(pid, self.mark) or writes_under(pid, str(self.workdir))}

    def assert_nothing_left(self, what):
        """Within GONE_SECONDS, no process of the stack runs and every port can be listened on again."""
        def gone():
            left = self.stack_processes()
            busy = [f"{name}:{port}" for name, port in self.ports.items() if not port_bindable(port)]
            if left or busy:
                raise AssertionError(f"still running: {left}; ports still busy: {busy}")
            return True
        poll_until(gone, f"every process of the stack to end after {what}", GONE_SECONDS, interval=0.5)

    def kill_everything(self):
        """Test cleanup: SIGKILL the launch's group and every process of the stack, each by id."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self.stack_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


@pytest.fixture
def launches():
    """Launches a test makes; whatever they left is killed afterwards, pass or fail."""
    started = []
    yield started
    for launch in started:
        launch.kill_everything()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT (Ctrl-C)", "SIGHUP (terminal closed)"])
def test_a_signal_to_the_process_group_of_make_local_stops_every_process(tmp_path, launches, signum):
    launch = Launch(tmp_path, via_make=True)
    launches.append(launch)
    launch.wait_up()
    os.killpg(launch.process.pid, signum)  # what timeout, CI runners, service managers and terminals do
    launch.assert_nothing_left(f"{signal.Signals(signum).name} to the process group of make local")
    launch.process.wait(timeout=10)
    assert "Stopped: every process the stack started has exited." in launch.output()


def test_make_local_starts_everything_without_lifecycle_api_and_a_repeated_sigterm_does_not_cut_the_stop_short(
        tmp_path, launches):
    launch = Launch(tmp_path, via_make=False)
    launches.append(launch)
    launch.wait_up()
    printed = launch.output()
    for name in components.ORDER:
        if name in launch.ports and (name != "grafana" or binaries.optional("grafana")):
            assert f"http://127.0.0.1:{launch.ports[name]}" in printed, f"{name}'s URL is not printed"
            assert port_open(launch.ports[name]), f"{name} is not listening"
    if binaries.optional("grafana") is None:  # said, so that a dead Dashboard link is no surprise
        assert "grafana            skipped: no `grafana` program on PATH" in printed, printed
    # No lifecycle API: a form post from any web page could stop Prometheus (issue 13, item 5).
    quit_ = requests.post(f"http://127.0.0.1:{launch.ports['prometheus']}/-/quit", timeout=5)
    assert quit_.status_code == 403, f"/-/quit answered {quit_.status_code}: {quit_.text}"
    before = launch.stack_processes()
    # SIGTERM to the launcher alone, and again once the shutdown is under way, as make does: the
    # second one must not cut the cleanup short (the race of issue 13, made deterministic).
    launch.process.send_signal(signal.SIGTERM)
    poll_until(lambda: set(before) - set(live_processes()), "the shutdown to stop a first process",
               GONE_SECONDS, interval=0.02)
    launch.process.send_signal(signal.SIGTERM)
    launch.assert_nothing_left("SIGTERM to the launcher, twice")
    assert launch.process.wait(timeout=10) == 0


def test_a_second_make_local_names_the_running_one_and_changes_nothing(tmp_path, launches):
    launch = Launch(tmp_path, via_make=False)
    launches.append(launch)
    launch.wait_up()
    with open(launch.workdir / "stack.json") as source:
        note = json.load(source)  # what the launcher says it runs, for a second launcher to read
    before = launch.stack_processes()
    # The same work directory (a second `make local` in the same checkout): refused by name.
    second = Launch(tmp_path, via_make=True, workdir=launch.workdir, ports=launch.ports, name="second")
    launches.append(second)
    assert second.process.wait(timeout=REFUSAL_SECONDS) != 0
    said = second.output()
    assert f"make local is already running from {launch.workdir} (launcher PID {launch.process.pid})" in said
    for name, pid in note["pids"].items():
        assert f"{name} PID {pid}" in said, f"the refusal does not name {name}'s PID:\n{said}"
    for name, port in note["ports"].items():
        assert f"on port {port}" in said, f"the refusal does not name {name}'s port:\n{said}"
    assert "Starting the stack" not in said
    # Another work directory on the same ports (another checkout): every busy port named with its holder.
    third = Launch(tmp_path, via_make=True, ports=launch.ports, name="other-workdir")
    launches.append(third)
    assert third.process.wait(timeout=REFUSAL_SECONDS) != 0
    said = third.output()
    assert (f"Port {launch.ports['shop']} for shop (SHOP_PORT) is already in use by PID {note['pids']['shop']} "
            "(gunicorn: master [shop])") in said, said
    assert not (third.workdir / "logs").exists(), "the refused launch started something"
    assert launch.stack_processes() == before, "a refused launch changed the running stack"
    assert launch.process.poll() is None, "the running launcher stopped"


def test_sigkill_of_the_launcher_leaves_no_process(tmp_path, launches):
    launch = Launch(tmp_path, via_make=False)
    launches.append(launch)
    launch.wait_up()
    launch.process.kill()  # no cleanup runs: the children's death signal is the backstop
    launch.assert_nothing_left("SIGKILL of the launcher")


def test_a_busy_port_is_named_with_its_holder_before_anything_starts(tmp_path, launches):
    ports = {name: free_port() for name in components.DEFAULT_PORTS}
    holder = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.socket(); "
                               f"s.bind(('127.0.0.1', {ports['prometheus']})); s.listen(); time.sleep(300)"],
                              start_new_session=True)
    try:
        poll_until(lambda: port_open(ports["prometheus"]), "the stand-in program to listen", 10)
        launch = Launch(tmp_path, via_make=False, ports=ports)
        launches.append(launch)
        assert launch.process.wait(timeout=REFUSAL_SECONDS) == 1
        said = launch.output()
        assert (f"Port {ports['prometheus']} for prometheus (PROMETHEUS_PORT) is already in use by "
                f"PID {holder.pid} ({sys.executable} -c import socket") in said, said
        assert "Starting the stack" not in said and "The stack is up" not in said
        assert not (launch.workdir / "logs").exists(), "components were started although a port was busy"
    finally:
        holder.kill()
        holder.wait(timeout=10)
