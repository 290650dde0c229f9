"""Baseline and scenario traffic: the weighted journey mix on an open-loop schedule.

Ties the pieces together: the schedule (openloop), what each arrival does
(journeys), what is counted (metrics) and what the progress line shows (stats).
The target rate is the base rate, unless a traffic spike overrides it.
"""
import random
import threading
from collections.abc import Mapping
from typing import Any, Self

from loadgen.journeys import DEFAULT_MIX, DEFAULT_TIMEOUT, ERROR_OUTCOMES, JOURNEYS, OUTCOMES, ShopClient, run_journey
from loadgen.metrics import LoadgenMetrics
from loadgen.openloop import OpenLoop
from loadgen.stats import RollingStats

# Journeys in flight at most. A sync gunicorn shop serves a handful at once; more connections
# would only wait in its listen queue, in front of Prometheus' scrape of its /metrics.
DEFAULT_WORKERS = 16


def _weights(mix: Mapping[str, float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """(names, weights) of the journeys with a positive weight."""
    return tuple(zip(*[(name, weight) for name, weight in mix.items() if weight > 0]))


class Traffic:
    """Journeys against the shop at a target rate, with metrics and rolling stats."""

    def __init__(self, shop_url: str, rate: float, metrics: LoadgenMetrics, mix: Mapping[str, float] | None = None,
                 duration: float | None = None, arrivals: str = "constant", workers: int = DEFAULT_WORKERS,
                 max_backlog: int = 2000, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 seed: int | None = None) -> None:
        self.metrics = metrics
        self.mix = dict(mix or DEFAULT_MIX)
        self.rng = random.Random(seed)
        self.shop = ShopClient(shop_url, timeout=timeout, rng=random.Random(seed))
        self.stats = RollingStats(ERROR_OUTCOMES)
        self._base_rate = float(rate)
        self._spike: tuple[float, float] | None = None  # (multiplier, minimum_rate) while a spike is on
        self._lock = threading.Lock()
        self._weights = _weights(self.mix)
        self.loop = OpenLoop(lambda journey: run_journey(self.shop, journey), self.target_rate(),
                             choose=self._choose, on_arrival=self._arrived, on_result=self._finished,
                             duration=duration, workers=workers, max_backlog=max_backlog, arrivals=arrivals)
        metrics.target_rate.set(self.target_rate())

    @staticmethod
    def metric_labels() -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Journey names and outcomes, for pre-creating the metric series."""
        return tuple(JOURNEYS), OUTCOMES

    def target_rate(self) -> float:
        """The rate the schedule aims at now (a spike multiplies the base rate)."""
        with self._lock:
            if self._spike is None:
                return self._base_rate
            multiplier, minimum = self._spike
            return max(self._base_rate * multiplier, minimum)

    def _apply(self) -> None:
        rate = self.target_rate()
        self.loop.set_rate(rate)
        self.metrics.target_rate.set(rate)

    def set_base_rate(self, rate: float) -> None:
        """Change the baseline rate (0 stops the baseline; a running spike keeps its minimum)."""
        if rate < 0:
            raise ValueError(f"The rate must not be negative; it is {rate}.")
        with self._lock:
            self._base_rate = float(rate)
        self._apply()

    @property
    def base_rate(self) -> float:
        """The baseline rate in journeys per second."""
        return self._base_rate

    def _choose(self) -> str:
        names, weights = self._weights
        return self.rng.choices(names, weights)[0]

    def start_spike(self, multiplier: float, minimum_rate: float = 0.0, mix: Mapping[str, float] | None = None) -> None:
        """Multiply the rate (at least `minimum_rate`), optionally with another journey mix, until end_spike()."""
        if multiplier <= 0 or minimum_rate < 0:
            raise ValueError("A spike needs a positive multiplier and a minimum rate of zero or more.")
        with self._lock:
            self._spike = (float(multiplier), float(minimum_rate))
            self._weights = _weights(mix or self.mix)
        self._apply()

    def end_spike(self) -> None:
        """Back to the base rate and mix."""
        with self._lock:
            self._spike = None
            self._weights = _weights(self.mix)
        self._apply()

    def _arrived(self, _journey: str) -> None:
        self.metrics.intended.inc()
        self.metrics.in_progress.inc()
        self.stats.arrival()

    def _finished(self, journey: str, outcome: str, latency: float | None, scheduled: float) -> None:
        self.metrics.in_progress.dec()
        self.metrics.requests.labels(journey, outcome).inc()
        if latency is not None:
            self.metrics.latency.labels(journey).observe(latency)
        self.stats.record(journey, outcome, latency, scheduled)

    def start(self) -> Self:
        """Start the schedule (returns at once)."""
        self.loop.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a bounded run (--duration) to finish scheduling."""
        return self.loop.wait(timeout)

    def stop(self, drain_timeout: float = 15.0, discard_queued: bool = False) -> bool:
        """Stop scheduling and let journeys finish (only those already running, with discard_queued)."""
        return self.loop.stop(drain_timeout, discard_queued)

    def snapshot(self) -> dict[str, Any]:
        """Stats for the progress line and the console, with the current rates."""
        snapshot = self.stats.snapshot()
        snapshot.update(target_rate=self.target_rate(), base_rate=self._base_rate,
                        spike=self._spike is not None, backlog=self.loop.backlog())
        return snapshot
