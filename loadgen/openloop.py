"""An open-loop arrival schedule executed by a bounded set of worker threads.

Arrivals are placed on a timeline in advance (constant spacing or Poisson at
the target rate) and never wait for earlier responses. A worker measures each
job's latency from its *scheduled* time, so when the server stalls, the jobs
that queue up behind the stall report the wait instead of the schedule quietly
slowing down (no coordinated omission). When the scheduler thread itself
wakes late, it catches up by releasing every overdue arrival with its original
timestamp. The backlog is bounded: past `max_backlog` unfinished jobs an
arrival is counted as dropped rather than queued, so memory stays bounded
while a server is down.
"""
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Self

ARRIVAL_MODELS = ("constant", "poisson")
# on_result(label, outcome, latency in seconds (None when dropped), scheduled time on `clock`).
ResultCallback = Callable[[str, str, float | None, float], object]


class OpenLoop:
    """Run `task(label)` at `rate` arrivals per second; report each result to `on_result`."""

    def __init__(self, task: Callable[[str], str], rate: float, *, choose: Callable[[], str] = lambda: "request",
                 on_result: ResultCallback | None = None, on_arrival: Callable[[str], object] | None = None,
                 duration: float | None = None, workers: int = 64, max_backlog: int = 2000, arrivals: str = "constant",
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        if arrivals not in ARRIVAL_MODELS:
            raise ValueError(f"Arrival model must be one of {', '.join(ARRIVAL_MODELS)}, not {arrivals!r}.")
        if workers < 1 or max_backlog < workers:
            raise ValueError("An open loop needs at least one worker and a backlog of at least one per worker.")
        self.task, self.choose = task, choose
        self.on_result = on_result or (lambda label, outcome, latency, scheduled: None)
        self.on_arrival = on_arrival or (lambda label: None)
        self.duration, self.workers, self.max_backlog = duration, workers, max_backlog
        self.arrivals, self.clock = arrivals, clock
        self.rng = rng or random.Random()
        self._rate = float(rate)
        self._queue: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self._unfinished = 0
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at: float | None = None
        self.scheduled = self.dropped = 0

    @property
    def rate(self) -> float:
        """The current target rate in arrivals per second."""
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the target rate from the next arrival on (0 pauses the schedule)."""
        if rate < 0:
            raise ValueError(f"The rate must not be negative; it is {rate}.")
        self._rate = float(rate)
        self._changed.set()

    def backlog(self) -> int:
        """Jobs scheduled but not finished (queued or running)."""
        with self._lock:
            return self._unfinished

    def start(self) -> Self:
        """Start the workers and the scheduler; returns at once."""
        self.started_at = self.clock()
        for index in range(self.workers):
            self._spawn(self._work, f"loadgen-worker-{index}")
        self._scheduler = self._spawn(self._schedule, "loadgen-scheduler")
        return self

    def _spawn(self, target, name):
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def _gap(self, rate):
        return self.rng.expovariate(rate) if self.arrivals == "poisson" else 1.0 / rate

    def _schedule(self):
        """Release arrivals at their scheduled times until stopped or the duration is over."""
        end = None if self.duration is None else self.started_at + self.duration
        planned, last = self._rate, None
        # Constant spacing computes arrival k as anchor + k / rate (no drift from adding up floats).
        anchor, k, due = self.started_at, 0, self.started_at
        while not self._stopping.is_set():
            rate = self._rate
            if rate <= 0:
                if self._changed.wait(0.5):
                    self._changed.clear()
                planned, last = 0.0, None  # paused: resume from "now", do not replay the pause
                continue
            if rate != planned:
                # A new rate: re-plan from the last arrival (or from now, after a pause).
                anchor, k = (last, 1) if last is not None else (self.clock(), 0)
                due = anchor + (self._gap(rate) if k else 0.0)
                planned = rate
            if end is not None and due >= end:
                break
            delay = due - self.clock()
            if delay > 0:
                if self._changed.wait(min(delay, 0.5)):  # sleep in slices; wake early on a rate change
                    self._changed.clear()
                continue
            # Overdue arrivals (the scheduler woke late) go out at once, keeping their scheduled times.
            self._release(due)
            last, k = due, k + 1
            due = anchor + k / rate if self.arrivals == "constant" else due + self._gap(rate)
        self._stopping.set()

    def _release(self, scheduled):
        label = self.choose()
        self.scheduled += 1
        self.on_arrival(label)
        with self._lock:
            full = self._unfinished >= self.max_backlog
            if not full:
                self._unfinished += 1
        if full:
            self.dropped += 1
            self.on_result(label, "dropped", None, scheduled)
        else:
            self._queue.put((scheduled, label))

    def _work(self):
        """Take jobs off the queue and run them, timing from the scheduled start."""
        while True:
            job = self._queue.get()
            if job is None:
                return
            scheduled, label = job
            try:
                outcome = self.task(label)
            except Exception:  # a bug in a task must not kill the worker; it is counted
                outcome = "client_error"
            latency = self.clock() - scheduled
            with self._lock:
                self._unfinished -= 1
            self.on_result(label, outcome, latency, scheduled)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the schedule is over (duration reached or stopped)."""
        self._scheduler.join(timeout)
        return not self._scheduler.is_alive()

    def stop(self, drain_timeout: float = 15.0, discard_queued: bool = False) -> bool:
        """Stop scheduling, let jobs finish (up to drain_timeout), stop the workers; True if none is left.

        With discard_queued, jobs still waiting for a worker are reported as dropped
        instead of run (a shutdown should not first work through a long backlog).
        """
        self._stopping.set()
        self._changed.set()
        self._scheduler.join()
        while discard_queued:
            try:
                scheduled, label = self._queue.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                self._unfinished -= 1
            self.dropped += 1
            self.on_result(label, "dropped", None, scheduled)
        deadline = self.clock() + drain_timeout
        while self.backlog() and self.clock() < deadline:
            time.sleep(0.05)
        for _ in range(self.workers):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(max(0.0, deadline - self.clock()) + 0.1)
        return self.backlog() == 0
