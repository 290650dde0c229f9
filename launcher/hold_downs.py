"""Keep a component stopped while a scenario asks for it (shop-down): the launcher's side of the control files.

The load generator writes `<workdir>/control/<service>.hold-down` (loadgen/process_control.py);
the launcher's watch loop calls HoldDowns.check() on every turn. A component held down is
stopped like any other (its whole process group, by id) and simply is not running: nothing of
it is left to orphan if the launcher is stopped or killed meanwhile, and it is not reported as
"stopped unexpectedly". When the file is gone or its time is up, the file is deleted and the
component started again (Stack.start_component waits for its health check). A file the
launcher cannot use is removed with a sentence saying why, never a crash.
"""
import contextlib
import os
import time
from collections.abc import Callable

from launcher.stack import StackError
from loadgen.process_control import STOPPABLE_SERVICES, HoldDown, path_for, scan


def _remove(path: str) -> bool:
    """Delete a control file; False when it cannot be (a directory someone made there, say): never a crash."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # released meanwhile
    except OSError:
        with contextlib.suppress(OSError):
            os.rmdir(path)
        return not os.path.lexists(path)
    return True


def _clock_time(unix_seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(unix_seconds))


class HoldDowns:
    """Which components a scenario holds down, and the stops and starts that follow from the control files."""

    def __init__(self, stack, say: Callable[[str], object], clock: Callable[[], float] = time.time) -> None:
        self.stack, self.say, self.clock = stack, say, clock
        self.directory = stack.control_dir
        self.held: dict[str, HoldDown] = {}  # components this launcher stopped, and why
        self.stuck: set[str] = set()  # unusable files that could not be removed: said once, then ignored

    def check(self) -> None:
        """Stop what is newly held down; start again what is no longer (one line printed for each)."""
        wanted = self._requests()
        for name, hold in wanted.items():
            if name in self.stack.processes:
                self.stack.stop_component(name)
                self.say(f"{name} stopped by scenario {hold.scenario} until {_clock_time(hold.until)}")
            self.held[name] = hold
        for name in [name for name in self.held if name not in wanted]:
            hold = self.held.pop(name)
            started = self.clock()
            try:
                self.stack.start_component(name)
            except StackError as error:
                raise StackError(f"{name} did not start again after scenario {hold.scenario}: {error}") from None
            self.say(f"{name} started again after scenario {hold.scenario} "
                     f"(healthy after {self.clock() - started:.1f} s)")

    def _requests(self) -> dict[str, HoldDown]:
        """The valid requests whose time is not up; every other file is removed (expired ones silently)."""
        if self.directory is None:
            return {}
        holds, problems = scan(self.directory)
        for path, problem in problems.items():
            if _remove(path):
                self.say(f"{problem} Removed it; nothing is held down by it.")
            elif path not in self.stuck:
                self.stuck.add(path)
                self.say(f"{problem} It cannot be removed either; nothing is held down by it.")
        now = self.clock()
        wanted = {}
        for name, hold in holds.items():
            path = path_for(self.directory, name)
            if name not in STOPPABLE_SERVICES or name not in self.stack.services:
                _remove(path)
                self.say(f"Removed the hold-down file {path}: only {', '.join(STOPPABLE_SERVICES)} of this stack "
                         f"can be stopped by a scenario, not {name}.")
            elif hold.until <= now:
                _remove(path)
            else:
                wanted[name] = hold
        return wanted


def wait_watching(process, stack, say: Callable[[str], object], interval: float = 0.2,
                  between: Callable[[], object] = lambda: None) -> int:
    """Wait for `process` (a drill) to end while keeping the stack's hold-downs in force; return its exit code.

    The drill asks for the shop to be stopped and started again (shop-down), so whoever runs a drill on a stack
    must watch the control files meanwhile: the launcher's `make drill`, the benchmark's detection part.
    `between` runs on every turn (the launcher checks its stop signals there).
    """
    holds = HoldDowns(stack, say)
    while process.poll() is None:
        between()
        holds.check()
        time.sleep(interval)
    return process.returncode
