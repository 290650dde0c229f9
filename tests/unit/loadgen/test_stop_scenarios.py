"""Scenarios that stop a process (shop-down): the scenario manager asks the launcher through its control files,
ends them with the files, and never mistakes the stopped shop's silence for "the knob was switched off"."""
import pytest

from loadgen.catalog import load_catalog
from loadgen.fault_api import ControlError
from loadgen.metrics import LoadgenMetrics
from loadgen.process_control import ProcessControl
from loadgen.scenario_manager import ScenarioError, ScenarioManager

CATALOG = load_catalog()
NOW = 1_767_225_600.0


class FakeFaults:
    """The services' admin API: the shop does not answer (it is stopped) unless told; every service that
    answers reports no knob on."""

    def __init__(self, shop_answers=False):
        self.shop_answers = shop_answers
        self.cleared = []

    def active(self, service):
        if service == "shop" and not self.shop_answers:
            raise ControlError("Cannot reach the shop service at http://127.0.0.1:1 to list its faults: refused.")
        return {}

    def clear(self, services=("shop", "payments", "inbox")):
        self.cleared.append(tuple(services))
        return ["Cannot reach the shop service at http://127.0.0.1:1 to switch every fault off: refused."]


class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def control(tmp_path, clock):
    return ProcessControl(str(tmp_path), clock=clock)


def manager(control, clock, shop_answers=False):
    return ScenarioManager(CATALOG, FakeFaults(shop_answers), None, LoadgenMetrics(scenarios=CATALOG), clock=clock,
                           processes=control)


def gauge(scenarios):
    return scenarios.metrics.registry.get_sample_value("loadgen_scenario_active", {"scenario": "shop-down"})


def test_shop_down_is_a_process_scenario_not_a_fault():
    scenario = CATALOG["shop-down"]
    assert scenario.stops_process and not scenario.is_fault
    assert (scenario.service, scenario.knob) == ("shop", "stop")
    assert scenario.summary()["stops_process"] is True
    assert not any(s.stops_process for name, s in CATALOG.items() if name != "shop-down")


def test_start_asks_the_launcher_until_the_end_and_stop_withdraws(control, clock):
    scenarios = manager(control, clock)
    state = scenarios.start("shop-down", 90)
    assert state["ends_at"] == NOW + 90 and gauge(scenarios) == 1
    hold = control.held()["shop"]
    assert (hold.until, hold.scenario) == (NOW + 90, "shop-down")
    scenarios.stop("shop-down")
    assert control.held() == {} and scenarios.active() == [] and gauge(scenarios) == 0


def test_without_a_launcher_it_is_refused_with_what_to_run_under_compose(clock):
    scenarios = ScenarioManager(CATALOG, FakeFaults(), None, LoadgenMetrics(scenarios=CATALOG), clock=clock)
    with pytest.raises(ScenarioError) as refused:
        scenarios.start("shop-down")
    assert refused.value.status == 409
    message = str(refused.value)
    assert "`docker compose stop shop`" in message and "`docker compose start shop`" in message
    assert "STACK_CONTROL_DIR" in message and message.endswith(".")
    assert scenarios.active() == []


def test_an_unwritable_control_directory_is_a_502_with_a_sentence(tmp_path, clock):
    scenarios = manager(ProcessControl(str(tmp_path / "missing"), clock=clock), clock)
    with pytest.raises(ScenarioError, match="Cannot ask the launcher to stop shop") as refused:
        scenarios.start("shop-down")
    assert refused.value.status == 502 and scenarios.active() == []


@pytest.mark.parametrize("shop_answers", [True, False], ids=["not stopped yet", "stopped"])
def test_reconcile_keeps_it_while_the_shop_reports_no_knob(control, clock, shop_answers):
    """The fault reconcile ends a scenario whose knob its service does not report; the shop reports none
    (`stop` is no knob, and once stopped it cannot answer at all): only the control file may end shop-down."""
    scenarios = manager(control, clock, shop_answers)
    scenarios.start("shop-down", 60)
    clock.now += 5
    scenarios.reconcile()
    assert [a["name"] for a in scenarios.active()] == ["shop-down"]


def test_reconcile_follows_the_control_files(control, clock):
    scenarios = manager(control, clock)
    scenarios.start("shop-down", 60)
    clock.now += 5
    control.release("shop")  # withdrawn elsewhere, or the launcher found its time up
    scenarios.reconcile()
    assert scenarios.active() == [] and gauge(scenarios) == 0
    clock.now += 5
    control.hold("shop", 30, "shop-down")  # `loadgen trigger shop-down` with no console running
    clock.now += 1
    scenarios.reconcile()
    assert [(a["name"], a["ends_at"]) for a in scenarios.active()] == [("shop-down", NOW + 40)]


def test_expiry_withdraws_the_request(control, clock):
    scenarios = manager(control, clock)
    scenarios.start("shop-down", 10)
    clock.now += 10
    scenarios.tick()
    assert scenarios.active() == [] and control.held() == {}
    assert not control.release("shop"), "the file was left for the launcher to find"


def test_stop_all_lets_the_shop_start_again_and_says_its_knobs_wait(control, clock):
    scenarios = manager(control, clock)
    scenarios.start("shop-down", 60)
    problems = scenarios.stop_all()
    assert control.held() == {} and scenarios.active() == []
    assert problems == ["The shop service was stopped by shop-down and is starting again, so its fault knobs "
                        "could not be switched off yet; run `loadgen clear` again once it answers (or let them "
                        "expire)."]


def test_stop_all_reports_an_unreachable_shop_as_it_is_when_nothing_held_it(control, clock):
    problems = manager(control, clock).stop_all()
    assert problems == ["Cannot reach the shop service at http://127.0.0.1:1 to switch every fault off: refused."]
