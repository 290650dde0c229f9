"""Rolling statistics for the progress line and the console: rate, errors, p50/p99."""
import collections
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


class RollingStats:
    """Counts since start plus the results of the last `window` seconds."""

    def __init__(self, error_outcomes: Iterable[str], window: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.error_outcomes = frozenset(error_outcomes)
        self.window, self.clock = window, clock
        self.started_at = clock()
        self.totals: collections.Counter[str] = collections.Counter()
        self.intended = 0
        # (finished_at, outcome, latency) of every result in the window, oldest first.
        self._recent: collections.deque[tuple[float, str, float | None]] = collections.deque()
        self._lock = threading.Lock()

    def arrival(self, _label: str | None = None) -> None:
        """Count one scheduled arrival."""
        with self._lock:
            self.intended += 1

    def record(self, _label: str, outcome: str, latency: float | None, _scheduled: float | None = None) -> None:
        """Count one finished (or dropped) journey."""
        now = self.clock()
        with self._lock:
            self.totals[outcome] += 1
            self._recent.append((now, outcome, latency))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self.window:
            self._recent.popleft()

    def snapshot(self) -> dict[str, Any]:
        """A dict with the achieved rate, error counts and latency percentiles of the window."""
        now = self.clock()
        with self._lock:
            self._trim(now)
            recent = list(self._recent)
            totals = dict(self.totals)
            intended = self.intended
        span = min(self.window, max(now - self.started_at, 1e-9))
        latencies = sorted(latency for _, _, latency in recent if latency is not None)
        recent_errors = sum(1 for _, outcome, _ in recent if outcome in self.error_outcomes)
        return {
            "achieved_rate": len(recent) / span,
            "intended_total": intended,
            "finished_total": sum(totals.values()),
            "errors_total": sum(n for outcome, n in totals.items() if outcome in self.error_outcomes),
            "error_ratio": recent_errors / len(recent) if recent else 0.0,
            "outcomes": totals,
            "p50_seconds": percentile(latencies, 0.50),
            "p99_seconds": percentile(latencies, 0.99),
        }


def progress_line(snapshot: Mapping[str, Any], target_rate: float, scenarios: Sequence[str] = ()) -> str:
    """One line for a terminal: target and achieved rate, errors, p50/p99, active scenarios."""
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.0f}ms"
    line = (f"target {target_rate:.1f}/s  achieved {snapshot['achieved_rate']:.1f}/s  "
            f"done {snapshot['finished_total']}  errors {snapshot['errors_total']} "
            f"({snapshot['error_ratio']:.1%} last 10s)  p50 {ms(snapshot['p50_seconds'])}  "
            f"p99 {ms(snapshot['p99_seconds'])}")
    if scenarios:
        line += "  scenario " + ",".join(scenarios)
    return line
