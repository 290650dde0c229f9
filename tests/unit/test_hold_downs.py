"""The launcher's side of stop scenarios: the control files stop and start a component, and nothing in them
can crash the launcher or stop what is not on the allow-list."""
import json
import os

import pytest

from launcher.hold_downs import HoldDowns
from launcher.stack import StackError
from loadgen.process_control import ProcessControl

NOW = 1_767_225_600.0


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


class FakeStack:
    """What HoldDowns uses of a Stack: its services, running processes, and stopping/starting one by name."""

    def __init__(self, control_dir, fail_start=False):
        self.control_dir = control_dir
        self.services = ["payments", "shop", "inbox"]
        self.processes = {name: object() for name in self.services}
        self.calls = []
        self.fail_start = fail_start

    def stop_component(self, name):
        self.calls.append(("stop", name))
        del self.processes[name]

    def start_component(self, name):
        self.calls.append(("start", name))
        if self.fail_start:
            raise StackError(f"{name} exited with code 3:\nno database")
        self.processes[name] = object()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def setup(tmp_path, clock):
    """(HoldDowns, FakeStack, ProcessControl on the same directory, printed lines)."""
    lines = []
    stack = FakeStack(str(tmp_path))
    return HoldDowns(stack, lines.append, clock=clock), stack, ProcessControl(str(tmp_path), clock=clock), lines


def test_a_held_component_is_stopped_once_and_started_again_when_released(setup):
    holds, stack, control, lines = setup
    holds.check()
    assert stack.calls == [] and lines == []
    control.hold("shop", 60, "shop-down")
    holds.check()
    holds.check()
    assert stack.calls == [("stop", "shop")], "stopped once, then left stopped"
    assert "shop" not in stack.processes  # not running, so not among the dead the watch loop reports
    assert len(lines) == 1 and lines[0].startswith("shop stopped by scenario shop-down until ")
    control.release("shop")
    holds.check()
    assert stack.calls == [("stop", "shop"), ("start", "shop")] and "shop" in stack.processes
    assert len(lines) == 2 and lines[1].startswith("shop started again after scenario shop-down")
    holds.check()
    assert len(stack.calls) == 2


def test_when_its_time_is_up_the_file_is_deleted_and_the_component_starts(setup, clock, tmp_path):
    holds, stack, control, _lines = setup
    control.hold("shop", 10, "shop-down")
    holds.check()
    clock.now += 10
    holds.check()
    assert stack.calls == [("stop", "shop"), ("start", "shop")]
    assert os.listdir(tmp_path) == []


def test_an_extended_hold_keeps_it_down(setup, clock):
    holds, stack, control, _lines = setup
    control.hold("shop", 10, "shop-down")
    holds.check()
    control.hold("shop", 60, "shop-down")
    clock.now += 30
    holds.check()
    assert stack.calls == [("stop", "shop")]


@pytest.mark.parametrize("content", ["{half", json.dumps({"until": "later"}), json.dumps([1])])
def test_a_malformed_file_is_removed_with_a_sentence_and_stops_nothing(setup, tmp_path, content):
    holds, stack, _control, lines = setup
    (tmp_path / "shop.hold-down").write_text(content)
    holds.check()
    assert stack.calls == [] and os.listdir(tmp_path) == []
    assert len(lines) == 1 and "hold-down file" in lines[0] and lines[0].endswith("nothing is held down by it.")


@pytest.mark.parametrize("service", ["payments", "grafana"])
def test_only_allowed_components_of_this_stack_can_be_held(setup, tmp_path, service):
    holds, stack, _control, lines = setup
    (tmp_path / f"{service}.hold-down").write_text(json.dumps({"until": NOW + 60, "scenario": "x"}))
    holds.check()
    assert stack.calls == [] and os.listdir(tmp_path) == []
    assert lines == [f"Removed the hold-down file {tmp_path}/{service}.hold-down: only shop of this stack can be "
                     f"stopped by a scenario, not {service}."]


def test_a_component_that_does_not_come_back_is_named_with_its_scenario(tmp_path, clock):
    stack = FakeStack(str(tmp_path), fail_start=True)
    holds = HoldDowns(stack, lambda _line: None, clock=clock)
    control = ProcessControl(str(tmp_path), clock=clock)
    control.hold("shop", 60, "shop-down")
    holds.check()
    control.release("shop")
    with pytest.raises(StackError, match="shop did not start again after scenario shop-down: shop exited with code 3"):
        holds.check()


def test_a_stack_without_a_control_directory_holds_nothing(clock):
    stack = FakeStack(None)
    HoldDowns(stack, lambda _line: None, clock=clock).check()
    assert stack.calls == []


def test_the_launchers_stack_offers_its_control_directory_and_starts_with_it_empty(tmp_path, monkeypatch):
    """Its children get STACK_CONTROL_DIR (and the `export` lines too); a stack nobody watches offers none, and
    never passes on one it inherited; requests a killed launcher left behind are dropped before anything starts."""
    from launcher.stack import Stack
    from loadgen.process_control import CONTROL_DIR_VARIABLE
    monkeypatch.setenv(CONTROL_DIR_VARIABLE, "/elsewhere/control")
    watched = Stack(str(tmp_path / "watched"), hold_downs=True)
    assert watched.service_env()[CONTROL_DIR_VARIABLE] == watched.control_dir == str(tmp_path / "watched" / "control")
    assert f"export {CONTROL_DIR_VARIABLE}={watched.control_dir}" in watched.cli_exports()
    assert CONTROL_DIR_VARIABLE not in Stack(str(tmp_path / "plain")).service_env()
    os.makedirs(watched.control_dir)
    (tmp_path / "watched" / "control" / "shop.hold-down").write_text(json.dumps({"until": 2e9}))
    watched.prepare_control_dir()
    assert os.listdir(watched.control_dir) == []
    assert os.stat(watched.control_dir).st_mode & 0o777 == 0o700


def test_whoever_waits_for_a_drill_keeps_the_hold_downs_in_force(setup, tmp_path):
    """The launcher's `make drill` and the benchmark wait for the drill this way: on every turn the control
    files are read, and `between` runs (the launcher's stop signals)."""
    from launcher.hold_downs import wait_watching
    _holds, stack, _control, _lines = setup
    control = ProcessControl(str(tmp_path))  # the real clock, as wait_watching's HoldDowns has

    class Drill:
        """A drill that asks for shop-down on its second turn, withdraws on its fourth, and ends on its sixth."""
        turns = 0
        returncode = 7

        def poll(self):
            self.turns += 1
            if self.turns == 2:
                control.hold("shop", 60, "shop-down")
            if self.turns == 4:
                control.release("shop")
            return None if self.turns < 6 else self.returncode
    turns = []
    assert wait_watching(Drill(), stack, lambda _line: None, interval=0, between=lambda: turns.append(1)) == 7
    assert stack.calls == [("stop", "shop"), ("start", "shop")] and len(turns) == 5


def test_a_file_that_cannot_even_be_removed_is_named_once_and_stops_nothing(setup, tmp_path):
    holds, stack, _control, lines = setup
    (tmp_path / "shop.hold-down").mkdir()
    (tmp_path / "shop.hold-down" / "keep").write_text("")  # a non-empty directory: neither unlink nor rmdir
    holds.check()
    holds.check()
    assert stack.calls == []
    assert len(lines) == 1 and "cannot be removed either" in lines[0], lines
