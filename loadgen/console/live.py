"""What the console shows while a scenario runs: the shop's live graphs and the scenario's story.

`GET /api/graphs`: three SVG graphs of the last ten minutes with the scenarios
of those minutes shaded (loadgen/console/graphs.py). `GET /api/story`: the
latest scenario's expected alerts with their times as they happen
(loadgen/story.py). Both are read-only and bounded: the graphs cost Prometheus
three range queries per step whatever the number of tabs, and the story asks
the inbox at most once every STORY_SECONDS.
"""
import threading
import time
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue

from app.common.errors import ApiError
from app.common.graph_svg import Window
from loadgen import story
from loadgen.alerts import AlertSourceError
from loadgen.catalog import load_heartbeats, load_slow_to_resolve
from loadgen.console import get_state
from loadgen.console.graphs import WINDOW_SECONDS, LiveGraphs
from loadgen.drill import INBOX_LOOKBACK_SECONDS

GRAPHS_EXTENSION = "loadgen.graphs"
STORY_EXTENSION = "loadgen.story"
STORY_SECONDS = 2.0

bp = Blueprint("live", __name__)


@lru_cache(maxsize=1)
def _matchers() -> tuple[list, list]:
    """The catalog's slow-to-resolve and heartbeat matchers, read once."""
    return load_slow_to_resolve(), load_heartbeats()


class StoryCache:
    """The last story told, kept for STORY_SECONDS per run, so open tabs do not multiply inbox queries."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self._kept: tuple[Any, float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def get(self, key: Any) -> dict[str, Any] | None:
        """The story kept for `key`, while it is fresh."""
        with self._lock:
            if self._kept and self._kept[0] == key and self.clock() < self._kept[1]:
                return self._kept[2]
            return None

    def put(self, key: Any, told: dict[str, Any]) -> None:
        """Keep a story for STORY_SECONDS."""
        with self._lock:
            self._kept = (key, self.clock() + STORY_SECONDS, told)


def init_app(app: Flask, prometheus_url: str) -> None:
    """The graphs' and the story's caches, one per app."""
    app.extensions[GRAPHS_EXTENSION] = LiveGraphs(prometheus_url)
    app.extensions[STORY_EXTENSION] = StoryCache()


@bp.get("/api/graphs")
def graphs() -> ResponseReturnValue:
    """The shop's request rate, error ratio and p95 latency over the last ten minutes, scenarios shaded."""
    live: LiveGraphs = current_app.extensions[GRAPHS_EXTENSION]
    now = live.clock()
    windows = [Window(run["name"], run["started_at"], now if run["stopped_at"] is None else run["stopped_at"])
               for run in get_state().manager.history.runs(since=now - WINDOW_SECONDS)]
    return jsonify(live.snapshot(windows))


@bp.get("/api/story")
def latest_story() -> ResponseReturnValue:
    """The latest scenario's story: its alerts since Start, and why slow-burn tickets outlive Stop."""
    state = get_state()
    run = state.manager.history.latest()
    if run is None:
        return jsonify(story=None)
    cache: StoryCache = current_app.extensions[STORY_EXTENSION]
    key = (run["name"], run["started_at"], run["stopped_at"])
    told = cache.get(key)
    if told is None:
        try:
            entries = state.sources.inbox_alerts(since=run["started_at"] - INBOX_LOOKBACK_SECONDS)
        except AlertSourceError as error:
            raise ApiError(502, "inbox_unavailable", str(error)) from None
        slow, heartbeats = _matchers()
        told = story.story(state.catalog[run["name"]], run, entries, time.time(), slow, heartbeats)
        cache.put(key, told)
    return jsonify(story=told)
