"""Hold a component of the native stack down while a scenario runs: the request side of the launcher's control files.

The load generator cannot stop a process it did not start; the native launcher
(`make local`, `make drill`) can. So a scenario that stops the shop asks the
launcher through a file: the launcher gives every child STACK_CONTROL_DIR and
looks at `<dir>/<service>.hold-down` on every turn of its watch loop
(launcher/hold_downs.py). While the file's time is in the future the component
stays stopped; once the file is gone or its time is up, it starts again. So a
forgotten scenario still ends, and a load generator that dies mid-scenario
cannot keep the shop down for longer than asked.

Under docker compose there is no launcher and no such variable: the user stops
and starts the containers (`docker compose stop shop`, `docker compose start shop`).
"""
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

CONTROL_DIR_VARIABLE = "STACK_CONTROL_DIR"
SUFFIX = ".hold-down"
# What a scenario may stop: the launcher refuses to hold down anything else (its allow-list is this one).
STOPPABLE_SERVICES = ("shop",)


class HoldDownError(ValueError):
    """A hold-down file that cannot be read or does not say until when; the message is a sentence."""


@dataclass(frozen=True)
class HoldDown:
    """A request to keep `service` stopped until `until` (unix seconds), made by `scenario`."""
    service: str
    until: float
    scenario: str


def path_for(directory: str, service: str) -> str:
    """The control file of one service."""
    return os.path.join(directory, service + SUFFIX)


def read(path: str) -> HoldDown:
    """Parse one control file; HoldDownError says what is wrong with it (FileNotFoundError if it is gone)."""
    service = os.path.basename(path)[:-len(SUFFIX)]
    try:
        with open(path) as source:
            text = source.read(4096)
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise  # released meanwhile: the caller treats it as no request
        raise HoldDownError(f"The hold-down file {path} cannot be read: {error.strerror}.") from None
    try:
        document = json.loads(text)
    except ValueError:
        raise HoldDownError(f"The hold-down file {path} is not JSON; it must be like {{\"until\": 1767225600}}.") \
            from None
    until = document.get("until") if isinstance(document, dict) else None
    if isinstance(until, bool) or not isinstance(until, (int, float)) or not math.isfinite(until):
        raise HoldDownError(f"The hold-down file {path} does not give \"until\" as a number of unix seconds.")
    scenario = document.get("scenario")
    return HoldDown(service, float(until), scenario if isinstance(scenario, str) and scenario else "unknown")


def scan(directory: str) -> tuple[dict[str, HoldDown], dict[str, str]]:
    """({service: HoldDown}, {path: problem}) for every control file in `directory` (none if it is missing)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return {}, {}
    holds: dict[str, HoldDown] = {}
    problems: dict[str, str] = {}
    for name in names:
        if name.startswith(".") or not name.endswith(SUFFIX):
            continue  # a writer's temp file (renamed into place when complete), or not ours
        path = os.path.join(directory, name)
        try:
            hold = read(path)
        except FileNotFoundError:
            continue  # released meanwhile
        except HoldDownError as error:
            problems[path] = str(error)
            continue
        holds[hold.service] = hold
    return holds, problems


class ProcessControl:
    """Asks the native launcher to keep services stopped: hold(), release(), held()."""

    def __init__(self, directory: str, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.clock = clock

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ProcessControl | None":
        """The launcher's control directory from STACK_CONTROL_DIR, or None when no launcher gave one."""
        directory = (os.environ if environ is None else environ).get(CONTROL_DIR_VARIABLE, "").strip()
        return cls(directory) if directory else None

    def hold(self, service: str, seconds: float, scenario: str) -> float:
        """Ask for `service` to stay stopped for `seconds` (replacing an earlier request); return until when.

        Written to a temp file and renamed, so the launcher never reads half a file; mode 0600 like the
        directory's 0700: only this user's processes may stop the stack's components.
        """
        if service not in STOPPABLE_SERVICES:
            raise ValueError(f"Only {', '.join(STOPPABLE_SERVICES)} can be stopped by a scenario, not {service}.")
        until = self.clock() + seconds
        descriptor, temp = tempfile.mkstemp(prefix=f".{service}", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(descriptor, "w") as out:  # mkstemp creates it with mode 0600
                json.dump({"until": until, "scenario": scenario}, out)
            os.replace(temp, path_for(self.directory, service))
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        return until

    def release(self, service: str) -> bool:
        """Withdraw the request for `service` (the launcher starts it again); False if there was none."""
        try:
            os.unlink(path_for(self.directory, service))
        except FileNotFoundError:
            return False
        return True

    def held(self) -> dict[str, HoldDown]:
        """{service: HoldDown} of the requests whose time is not up (malformed files are the launcher's to remove)."""
        now = self.clock()
        return {service: hold for service, hold in scan(self.directory)[0].items() if hold.until > now}
