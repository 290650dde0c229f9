"""A scenario's story for the console (loadgen/story.py): given inbox entries and Start/Stop times, the sentences;
the slow-burn explanation's numbers held to the loaded SLO profile; the runs the scenario manager records."""
import time

from flask import Flask, request

from loadgen import slow_burn, story
from loadgen.catalog import load_catalog, load_heartbeats, load_slow_to_resolve
from loadgen.config import Urls
from loadgen.console import create_app
from loadgen.fault_api import ControlError
from loadgen.metrics import LoadgenMetrics
from loadgen.scenario_history import ScenarioHistory
from loadgen.scenario_manager import ScenarioManager
from loadgen.state import build_state
from processes.ports import free_port
from prometheus.slo import spec
from tests.helpers.errors import assert_error
from tests.helpers.servers import ThreadedServer

CATALOG = load_catalog()
START, STOP = 1_767_225_600.0, 1_767_225_900.0
SLOW, HEARTBEATS = load_slow_to_resolve(), load_heartbeats()


def entry(fingerprint, alertname, status, at, **labels):
    """One inbox entry as GET /api/alerts returns it."""
    return {"fingerprint": fingerprint, "alertname": alertname, "status": status, "received_at": at,
            "labels": {"alertname": alertname, **labels}}


def tell(name, entries, stopped_at=STOP, now=STOP + 200):
    run = {"name": name, "started_at": START, "stopped_at": stopped_at}
    return story.story(CATALOG[name], run, entries, now, SLOW, HEARTBEATS)


def texts(told):
    return [line["text"] for line in told["lines"]]


def test_expected_alerts_are_told_with_their_times_after_start_and_after_stop():
    told = tell("payments-errors", [
        entry("old", "ShopPaymentsErrorRatioHigh", "firing", START - 600, severity="critical"),  # carried over
        entry("old", "ShopPaymentsErrorRatioHigh", "firing", START + 5, severity="critical"),  # its repeat
        entry("p", "ShopPaymentsErrorRatioHigh", "firing", START + 20.4, severity="critical", job="shop"),
        entry("c", "ShopCheckoutBudgetBurn", "firing", START + 41, severity="critical", slo="checkout", window="4m"),
        entry("w", "Watchdog", "firing", START + 50),
        entry("r", "ShopReconcileJobFailed", "firing", START + 90, severity="warning"),
        entry("p", "ShopPaymentsErrorRatioHigh", "resolved", STOP + 65, severity="critical", job="shop"),
        entry("c", "ShopCheckoutBudgetBurn", "resolved", STOP + 25, severity="critical", slo="checkout", window="4m"),
    ])
    assert texts(told) == [
        "ShopPaymentsErrorRatioHigh (severity=critical): fired 20 s after Start, resolved 65 s after Stop",
        "ShopCheckoutBudgetBurn (severity=critical, window=4m, slo=checkout): fired 41 s after Start, "
        "resolved 25 s after Stop",
        "ShopReconcileJobFailed (severity=warning): fired 90 s after Start, still firing; its resolved "
        "notification follows [tolerated: a symptom of the same cause]",
    ]
    assert [(line["role"], line["resolved_after_stop"]) for line in told["lines"]] == [
        ("expected", 65.0), ("expected", 25.0), ("tolerated", None)]
    assert told["slow_burn"] == slow_burn.explanation() and not told["active"]


def test_a_slow_burn_ticket_first_notified_after_stop_is_told_as_such():
    told = tell("payments-outage", [
        entry("p", "ShopPaymentsErrorRatioHigh", "firing", START + 15, severity="critical"),
        entry("c", "ShopCheckoutBudgetBurn", "firing", START + 30, severity="critical", slo="checkout", window="4m"),
        entry("t", "ShopCheckoutBudgetBurn", "firing", STOP + 120, severity="warning", slo="checkout", window="96m"),
    ])
    ticket = [line for line in told["lines"] if line["slow"]]
    assert [line["text"] for line in ticket] == [
        "ShopCheckoutBudgetBurn (severity=warning, window=96m, slo=checkout): fired 420 s after Start, still "
        "firing: a slow-burn ticket (see below) (first notified after Stop)"]
    assert "arrive after Stop" in told["slow_burn"]


def test_while_active_an_expected_alert_not_seen_yet_is_waited_for():
    told = tell("checkout-silent-failure", [], stopped_at=None, now=START + 30)
    assert texts(told) == ["ShopOrdersDropped: not fired yet, 30 s after Start (the drill allows 240 s)"]
    assert told["active"] and told["slow_burn"] is None  # no SLO alert expected or tolerated
    stopped = tell("checkout-silent-failure", [])
    assert texts(stopped) == ["ShopOrdersDropped: did not fire before Stop"]


def test_an_alert_resolved_before_stop_and_an_unexpected_one_are_marked():
    told = tell("memory-leak", [
        entry("m", "ShopMemoryGrowth", "firing", START + 100, severity="warning"),
        entry("m", "ShopMemoryGrowth", "resolved", START + 200, severity="warning"),
        entry("x", "ShopProbeFailing", "firing", START + 150, severity="critical"),
    ])
    assert texts(told) == [
        "ShopMemoryGrowth (severity=warning): fired 100 s after Start, resolved 200 s after Start, while the "
        "scenario still ran",
        "ShopProbeFailing (severity=critical): fired 150 s after Start, still firing; its resolved notification "
        "follows [not expected for this scenario]"]


def test_the_slow_burn_numbers_are_the_loaded_profiles():
    loaded = spec.loaded_profile()
    windows = {severity: tuple((spec.parse_duration(a.long), spec.parse_duration(a.short))
                               for a in loaded.alerts if a.severity == severity)
               for severity in ("critical", "warning")}
    assert (slow_burn.PROFILE, slow_burn.PAGE_WINDOWS, slow_burn.TICKET_WINDOWS) == (
        loaded.name, windows["critical"], windows["warning"])
    assert slow_burn.SLO_ALERTS == tuple(slo.alert for slo in spec.load().slos)
    # The drill's slow-to-resolve matchers are the tickets this explanation is about.
    assert {"severity": "warning", "slo": ".+"} in [{k: v.pattern for k, v in m.items()} for m in SLOW]
    text = slow_burn.explanation()
    assert "96 min/8 min and 288 min/24 min" in text and "up to about 8 min" in text and "or 24 min" in text


def test_the_manager_records_each_run_with_its_stop_and_keeps_the_first_start():
    class Clock:
        now = START

        def __call__(self):
            return self.now

    class NoFaults:
        def switch_on(self, *args):
            pass

        def switch_off(self, *args):
            pass

        def active(self, service):
            raise ControlError(f"The {service} service is not reachable here.")

    clock = Clock()
    manager = ScenarioManager(CATALOG, NoFaults(), None, LoadgenMetrics(scenarios=CATALOG), clock=clock)
    manager.start("payments-latency", 60)
    clock.now += 10
    manager.start("payments-latency", 60)  # extends; the run still began at START
    assert manager.history.latest() == {"name": "payments-latency", "started_at": START, "stopped_at": None}
    clock.now += 5
    manager.stop("payments-latency")
    manager.start("payments-errors", 30)
    clock.now += 40
    manager.tick()  # expired: stopped when its time was up, not when the tick noticed
    assert manager.history.runs() == [
        {"name": "payments-latency", "started_at": START, "stopped_at": START + 15},
        {"name": "payments-errors", "started_at": START + 15, "stopped_at": START + 45}]
    assert manager.history.runs(since=START + 20) == [manager.history.latest()]


def test_the_history_is_bounded():
    history = ScenarioHistory(max_runs=3)
    for i in range(5):
        history.started("payments-latency", START + i)
        history.stopped("payments-latency", START + i + 0.5)
    assert [run["started_at"] for run in history.runs()] == [START + 2, START + 3, START + 4]


def test_the_story_route_asks_the_inbox_once_per_refresh_and_says_when_it_cannot():
    asked = []
    inbox = Flask(__name__)

    @inbox.get("/api/alerts")
    def alerts():
        asked.append(float(request.args["since"]))
        return {"alerts": [{"id": 1, **entry("p", "ShopOrdersDropped", "firing", time.time(), severity="warning")}]}

    with ThreadedServer(inbox) as server:
        dead = {name: f"http://127.0.0.1:{free_port()}" for name in ("shop", "payments", "prometheus")}
        state = build_state(Urls(**dead, inbox=server.url, fault_token="t"), rate=0)
        try:
            client = create_app(state).test_client()
            assert client.get("/api/story").get_json() == {"story": None}
            state.manager.history.started("checkout-silent-failure", time.time() - 1)
            told = client.get("/api/story").get_json()["story"]
            assert told["scenario"] == "checkout-silent-failure" and told["active"]
            assert told["lines"][0]["text"].startswith("ShopOrdersDropped (severity=warning): fired ")
            assert client.get("/api/story").get_json()["story"] == told and len(asked) == 1
        finally:
            state.manager.close()
    state = build_state(Urls(**dead, inbox=f"http://127.0.0.1:{free_port()}", fault_token="t"), rate=0)
    try:
        state.manager.history.started("checkout-silent-failure", time.time())
        assert_error(create_app(state).test_client().get("/api/story"), 502, "inbox_unavailable")
    finally:
        state.manager.close()
