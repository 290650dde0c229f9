"""The recent runs of scenarios in this load generator: when each started and when it stopped.

The console shades them on its graphs and tells the story of the latest one
("fired 20 s after Start", "resolved 65 s after Stop"), which needs the Stop
time after the scenario is no longer active. Bounded: only the newest
MAX_RUNS are kept, which is more than fit in the console's ten minutes.
"""
import threading
from collections import deque
from typing import TypedDict

MAX_RUNS = 50


class Run(TypedDict):
    """One run of a scenario (unix seconds); `stopped_at` is None while it is active."""
    name: str
    started_at: float
    stopped_at: float | None


class ScenarioHistory:
    """Started and stopped scenarios, oldest first, at most MAX_RUNS."""

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._runs: deque[Run] = deque(maxlen=max_runs)
        self._lock = threading.Lock()

    def started(self, name: str, at: float) -> None:
        """A scenario started (a restart of a running one continues its run)."""
        with self._lock:
            if self._open(name) is None:
                self._runs.append({"name": name, "started_at": at, "stopped_at": None})

    def stopped(self, name: str, at: float) -> None:
        """A scenario stopped (by Stop, its expiry, or a knob switched off elsewhere)."""
        with self._lock:
            run = self._open(name)
            if run is not None:
                run["stopped_at"] = at

    def _open(self, name: str) -> Run | None:
        """The run of `name` that has not stopped (call with the lock held)."""
        return next((run for run in self._runs if run["name"] == name and run["stopped_at"] is None), None)

    def runs(self, since: float = 0.0) -> list[Run]:
        """Copies of the runs still active or stopped at or after `since`, oldest first."""
        with self._lock:
            return [dict(run) for run in self._runs  # type: ignore[misc]
                    if run["stopped_at"] is None or run["stopped_at"] >= since]

    def latest(self) -> Run | None:
        """The newest run: the active one, or the one that stopped last."""
        with self._lock:
            return dict(self._runs[-1]) if self._runs else None  # type: ignore[return-value]
