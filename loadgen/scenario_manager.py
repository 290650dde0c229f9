"""Scenarios started through the running load generator: switch them on and off, and know which are active.

The load generator is where a scenario's window is known, so it owns
`loadgen_scenario_active{scenario}` (dashboards shade fault windows with it).
A fault scenario switches a knob at its service for its duration (the service
expires it too, so a forgotten fault never stays on); traffic-spike changes
our own rate; a stop scenario (shop-down) asks the native launcher to keep
the service's process stopped (loadgen/process_control.py; the launcher starts
it again when the request is withdrawn or runs out). Every few seconds the
state is reconciled with the services and the launcher's control files: a knob
that was switched off elsewhere (or expired) ends its scenario, and a knob
switched on elsewhere (e.g. `loadgen trigger` without a console) starts one.
"""
import threading
import time
from collections.abc import Callable
from typing import TypedDict

from loadgen.catalog import FAULT_SERVICES, Catalog, Scenario
from loadgen.fault_api import ControlError, FaultApi
from loadgen.metrics import LoadgenMetrics
from loadgen.process_control import ProcessControl
from loadgen.scenario_history import ScenarioHistory
from loadgen.traffic import Traffic

RECONCILE_EVERY_SECONDS = 5.0
# The services' admin API accepts durations up to an hour (app/common/faults.py).
MAX_DURATION_SECONDS = 3600


def _service_named(problem: str) -> str | None:
    """The service a FaultApi.clear() problem is about when it could not be reached at all."""
    for service in FAULT_SERVICES:
        if problem.startswith(f"Cannot reach the {service} service"):
            return service
    return None


def _starting_again(service: str, scenario: str) -> str:
    """What stop_all says about a service it let start again: it cannot answer yet, and its knobs stay on disk."""
    return (f"The {service} service was stopped by {scenario} and is starting again, so its fault knobs could "
            "not be switched off yet; run `loadgen clear` again once it answers (or let them expire).")


class ScenarioError(ValueError):
    """A scenario request that cannot be honoured; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ActiveScenario(TypedDict):
    """An active scenario as the console and the CLI show it (times in unix seconds)."""
    name: str
    started_at: float
    ends_at: float
    seconds_left: float


class ScenarioManager:
    """Starts, stops and expires scenarios; keeps the active-scenario gauge true."""

    def __init__(self, catalog: Catalog, faults: FaultApi, traffic: Traffic | None, metrics: LoadgenMetrics,
                 clock: Callable[[], float] = time.time, processes: ProcessControl | None = None) -> None:
        self.catalog, self.faults, self.traffic, self.metrics = catalog, faults, traffic, metrics
        self.clock = clock
        # The native launcher's control files (None under compose, where nothing here can stop a container).
        self.processes = processes
        self._active: dict[str, dict[str, float]] = {}  # name -> {"started_at", "ends_at"}
        # When we last started or stopped each scenario ("*": everything): a service's answer
        # older than that is stale and must not undo it.
        self._touched: dict[str, float] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._last_reconcile = 0.0
        # Started and stopped runs, for the console's graphs and story (loadgen/scenario_history.py).
        self.history = ScenarioHistory()

    def _scenario(self, name: str) -> Scenario:
        if name not in self.catalog:
            raise ScenarioError(f"There is no scenario {name!r}; the catalog has: {', '.join(self.catalog)}.", 404)
        return self.catalog[name]

    def start(self, name: str, duration_seconds: float | None = None) -> ActiveScenario | None:
        """Start a scenario for duration_seconds (default: the catalog's); restarting extends it."""
        scenario = self._scenario(name)
        duration = scenario.default_duration_seconds if duration_seconds is None else duration_seconds
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) \
                or not 1 <= duration <= MAX_DURATION_SECONDS:
            raise ScenarioError(f"The duration must be a number of seconds from 1 to {MAX_DURATION_SECONDS}.")
        with self._lock:
            if scenario.is_fault:
                try:
                    self.faults.switch_on(scenario.service, scenario.knob, scenario.params, duration)
                except ControlError as error:
                    raise ScenarioError(str(error), 502) from None
            elif scenario.stops_process:
                self._hold(scenario, duration)
            elif self.traffic is None:
                raise ScenarioError(f"Scenario {name} changes the load generator's own traffic; start it through "
                                    "a running load generator (its console or LOADGEN_URL).", 409)
            else:
                self.traffic.start_spike(scenario.params.get("multiplier", 1), scenario.params.get("minimum_rate", 0),
                                         scenario.params.get("mix"))
            now = self._touch(name)
            self._begin(name, now, now + duration)
        return self.describe(name)

    def stop(self, name: str) -> None:
        """Stop a scenario now (switching its knob off even if we did not see it start)."""
        scenario = self._scenario(name)
        with self._lock:
            if scenario.is_fault:
                try:
                    self.faults.switch_off(scenario.service, scenario.knob)
                except ControlError as error:
                    raise ScenarioError(str(error), 502) from None
            else:
                self._undo(scenario)
            self._touch(name)
            self._end(name)

    def stop_all(self) -> list[str]:
        """Stop every scenario, switch every knob of every service off and let every stopped process start again;
        return problems as sentences."""
        with self._lock:
            released = self._release_all()
            for name in list(self._active):
                self._undo(self.catalog[name])
                self._end(name)
            self._touch("*")
            problems = [(_service_named(problem), problem) for problem in self.faults.clear()]
        return [_starting_again(service, released[service]) if service in released else problem
                for service, problem in problems]

    def _hold(self, scenario: Scenario, duration: float) -> None:
        """Ask the native launcher to keep the scenario's service stopped for `duration` (call with the lock held)."""
        if self.processes is None:
            raise ScenarioError(
                f"Scenario {scenario.name} stops the {scenario.service} service's processes, which only the native "
                f"launcher (make local) can do, and no launcher gave this load generator a control directory "
                f"(STACK_CONTROL_DIR). Under docker compose run `docker compose stop {scenario.service}` yourself, "
                f"and `docker compose start {scenario.service}` to end it.", 409)
        try:
            self.processes.hold(scenario.service, duration, scenario.name)
        except OSError as error:
            raise ScenarioError(f"Cannot ask the launcher to stop {scenario.service}: writing to its control "
                                f"directory {self.processes.directory} failed ({error.strerror}).", 502) from None

    def _undo(self, scenario: Scenario) -> None:
        """End what a scenario that is not a fault changed: a traffic spike, or a held-down process."""
        if scenario.stops_process:
            if self.processes is not None:
                self.processes.release(scenario.service)
        elif not scenario.is_fault and self.traffic is not None:
            self.traffic.end_spike()

    def _release_all(self) -> dict[str, str]:
        """Withdraw every hold-down request a stop scenario of the catalog could have made; {service: scenario}."""
        if self.processes is None:
            return {}
        released = {}
        for scenario in self.catalog.values():
            if scenario.stops_process and self.processes.release(scenario.service):
                released[scenario.service] = scenario.name
        return released

    def _touch(self, name: str) -> float:
        self._touched[name] = now = self.clock()
        return now

    def _stale(self, name: str, asked_at: float) -> bool:
        return max(self._touched.get(name, 0.0), self._touched.get("*", 0.0)) >= asked_at

    def _begin(self, name: str, started_at: float, ends_at: float) -> None:
        """Mark a scenario active until `ends_at` (a restart keeps its first start; call with the lock held)."""
        started_at = self._active.get(name, {}).get("started_at", started_at)
        self._active[name] = {"started_at": started_at, "ends_at": ends_at}
        self.history.started(name, started_at)
        self.metrics.scenario_active.labels(name).set(1)

    def _end(self, name: str, at: float | None = None) -> None:
        self._active.pop(name, None)
        self.history.stopped(name, self.clock() if at is None else at)
        self.metrics.scenario_active.labels(name).set(0)

    def _view(self, name: str, entry: dict[str, float]) -> ActiveScenario:
        """What describe() and active() show of an active scenario (call with the lock held)."""
        return {"name": name, "started_at": entry["started_at"], "ends_at": entry["ends_at"],
                "seconds_left": max(0.0, round(entry["ends_at"] - self.clock(), 1))}

    def describe(self, name: str) -> ActiveScenario | None:
        """The state of one active scenario (None when inactive)."""
        with self._lock:
            entry = self._active.get(name)
            return None if entry is None else self._view(name, entry)

    def active(self) -> list[ActiveScenario]:
        """Every active scenario, oldest first."""
        with self._lock:
            return [self._view(name, entry) for name, entry in list(self._active.items())]

    def tick(self) -> None:
        """Expire scenarios whose time is up; reconcile with the services now and then."""
        now = self.clock()
        with self._lock:
            for name, entry in list(self._active.items()):
                if entry["ends_at"] <= now:
                    self._undo(self.catalog[name])
                    self._end(name, entry["ends_at"])
        if now - self._last_reconcile >= RECONCILE_EVERY_SECONDS:
            self._last_reconcile = now
            self.reconcile()

    def reconcile(self) -> None:
        """Match our view with the knobs the services report as on (unreachable services are skipped), and the
        stop scenarios with the launcher's control files (a stopped service reports nothing: it is down)."""
        self._reconcile_holds()
        for service in FAULT_SERVICES:
            asked_at = self.clock()
            try:
                knobs = self.faults.active(service)
            except ControlError:
                continue
            now = self.clock()
            with self._lock:
                for scenario in self.catalog.values():
                    if scenario.service != service or not scenario.is_fault:
                        continue
                    if self._stale(scenario.name, asked_at):
                        continue  # we started or stopped it while the service was answering
                    on = scenario.knob in knobs
                    if scenario.name in self._active and not on:
                        self._end(scenario.name)
                    elif on and scenario.name not in self._active and knobs[scenario.knob] is not None:
                        self._begin(scenario.name, now, now + knobs[scenario.knob])

    def _reconcile_holds(self) -> None:
        """A hold-down request withdrawn or run out elsewhere ends its scenario; one made elsewhere (`loadgen
        trigger` without a console) starts it, until the request's time."""
        if self.processes is None:
            return
        asked_at = self.clock()
        try:
            held = self.processes.held()
        except OSError:
            return  # the control directory is unreadable now; the next reconcile retries
        now = self.clock()
        with self._lock:
            for scenario in self.catalog.values():
                if not scenario.stops_process or self._stale(scenario.name, asked_at):
                    continue
                hold = held.get(scenario.service)
                on = hold is not None and hold.scenario == scenario.name
                if scenario.name in self._active and not on:
                    self._end(scenario.name)
                elif on and scenario.name not in self._active:
                    self._begin(scenario.name, now, hold.until)

    def run_ticker(self, interval: float = 1.0) -> threading.Thread:
        """Tick in a daemon thread until close()."""
        def loop() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.tick()
                except Exception:  # a hiccup must not stop expiry; the next tick retries
                    pass
        thread = threading.Thread(target=loop, name="loadgen-scenarios", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """Stop the ticker."""
        self._stopping.set()
