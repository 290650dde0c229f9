"""Fault knobs (app/common/faults.py) on their own: parameters, the shared store, the admin API.

A knob takes exactly its declared parameters, within bounds, and each refusal
is a 400 naming the parameter and what it must be. The store keeps knobs for
their duration to the second, switches one off without touching the others,
and shares its state through the file (another store on the same file sees a
change at once). The admin API lists every knob with its parameters and the
time left, and only answers a caller with the exact token.
"""
import logging
import math

import pytest
from flask import Flask

from app.common.errors import ApiError, register_error_handlers
from app.common.faults import FaultStore, Knob, Param, admin_blueprint

TOKEN = "knob-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SLOW = Knob("slow", "Everything gets slower.", {"seconds": Param(float, 0.5, 0.1, 2.0)})
LEAK = Knob("leak", "Keeps memory.", {"blocks": Param(int, 3, 1, 10)})
MODE = Knob("mode", "Breaks one way or another.", {"how": Param(str, "crash", choices=("crash", "hang")),
                                                    "loud": Param(bool, False)})
PLAIN = Knob("plain", "Takes no parameters.")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


def refusal(knob, raw):
    """The ApiError `knob.validate(raw)` raises."""
    with pytest.raises(ApiError) as refused:
        knob.validate(raw)
    assert refused.value.status == 400
    return refused.value


# --- parameters ------------------------------------------------------------------------------------


def test_missing_parameters_take_their_defaults():
    assert SLOW.validate({}) == {"seconds": 0.5}
    assert MODE.validate({}) == {"how": "crash", "loud": False}
    assert PLAIN.validate({}) == {}


def test_a_whole_number_for_a_float_parameter_becomes_a_float():
    value = SLOW.validate({"seconds": 1})["seconds"]
    assert value == 1.0 and isinstance(value, float)


@pytest.mark.parametrize("seconds", [0.1, 2.0])
def test_a_float_exactly_at_a_bound_is_accepted(seconds):
    assert SLOW.validate({"seconds": seconds}) == {"seconds": seconds}


@pytest.mark.parametrize("knob, raw", [(SLOW, {"seconds": 0.0999}), (SLOW, {"seconds": 2.0001}),
                                       (LEAK, {"blocks": 0}), (LEAK, {"blocks": 11})])
def test_a_value_just_past_a_bound_is_refused_with_the_bounds(knob, raw):
    (name, _), = raw.items()
    spec = knob.params[name]
    error = refusal(knob, raw)
    assert error.code == "invalid_parameter"
    assert error.message == (f"Parameter {name} of fault {knob.name} must be between "
                             f"{spec.minimum} and {spec.maximum}."), error.message


@pytest.mark.parametrize("blocks", [1, 10])
def test_an_int_exactly_at_a_bound_is_accepted(blocks):
    assert LEAK.validate({"blocks": blocks}) == {"blocks": blocks}


@pytest.mark.parametrize("huge", [2**53, -(2**60), 10**400])
def test_a_whole_number_a_float_cannot_hold_exactly_is_refused_as_not_finite(huge):
    """From 2**53 up, a float no longer holds every whole number: such a value is taken as infinite."""
    error = refusal(SLOW, {"seconds": huge})
    assert (error.code, error.message) == ("invalid_parameter",
                                           "Parameter seconds of fault slow must be a finite number.")


def test_a_whole_number_just_below_two_to_the_53_is_still_a_float():
    knob = Knob("wide", "Wide bounds.", {"x": Param(float, 0.0, 0.0, 2.0**60)})
    assert knob.validate({"x": 2**53 - 1}) == {"x": float(2**53 - 1)}


@pytest.mark.parametrize("knob, raw, kind", [
    (SLOW, {"seconds": "1"}, "float"), (SLOW, {"seconds": True}, "float"),
    (LEAK, {"blocks": 2.0}, "int"), (LEAK, {"blocks": False}, "int"),
    (MODE, {"how": 1}, "str"), (MODE, {"loud": 1}, "bool"),
])
def test_a_value_of_the_wrong_type_is_refused_with_the_type(knob, raw, kind):
    (name, _), = raw.items()
    error = refusal(knob, raw)
    assert (error.code, error.message) == (
        "invalid_parameter", f"Parameter {name} of fault {knob.name} must be a {kind}.")


def test_a_bool_parameter_takes_a_bool():
    assert MODE.validate({"loud": True}) == {"how": "crash", "loud": True}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_float_that_is_not_finite_is_refused(value):
    knob = Knob("open", "No bounds.", {"x": Param(float, 0.0)})
    error = refusal(knob, {"x": value})
    assert (error.code, error.message) == ("invalid_parameter", "Parameter x of fault open must be a finite number.")


def test_a_choice_outside_the_list_is_refused_with_the_choices():
    error = refusal(MODE, {"how": "explode"})
    assert (error.code, error.message) == ("invalid_parameter",
                                           "Parameter how of fault mode must be one of crash, hang.")
    assert MODE.validate({"how": "hang"})["how"] == "hang"


def test_unknown_parameters_are_refused_by_name_with_the_ones_it_takes():
    error = refusal(MODE, {"speed": 1, "colour": 2, "how": "hang"})
    assert (error.code, error.message) == (
        "unknown_parameter", "Fault mode has no parameter colour, speed; it takes: how, loud.")
    assert refusal(PLAIN, {"x": 1}).message == "Fault plain has no parameter x; it takes: none."


# --- the store -------------------------------------------------------------------------------------


def test_a_knob_is_on_until_its_duration_is_over_to_the_second(tmp_path):
    clock = Clock()
    store = FaultStore(str(tmp_path / "faults.json"), clock)
    store.switch_on("slow", {"seconds": 1.0}, 30)
    clock.now += 29.999
    assert store.params("slow") == {"seconds": 1.0}
    clock.now = 1030.0
    assert store.params("slow") is None and store.active() == {}, "a knob outlived its duration"


def test_switching_one_knob_off_leaves_the_others_on(tmp_path):
    store = FaultStore(str(tmp_path / "faults.json"), Clock())
    store.switch_on("slow", {"seconds": 1.0}, 30)
    store.switch_on("leak", {"blocks": 2}, 30)
    store.switch_off("slow")
    assert set(store.active()) == {"leak"}
    store.switch_off("never-on")
    assert set(store.active()) == {"leak"}
    store.switch_off()
    assert store.active() == {}


def test_a_knob_switched_on_with_no_params_is_on(tmp_path):
    store = FaultStore(str(tmp_path / "faults.json"), Clock())
    store.switch_on("plain", {}, 30)
    assert store.params("plain") == {} and "plain" in store.active()


def test_another_store_on_the_same_file_sees_every_change(tmp_path):
    """Workers share knobs through the file: a worker's cached copy must follow the file."""
    clock = Clock()
    path = str(tmp_path / "state" / "faults.json")
    worker_a, worker_b = FaultStore(path, clock), FaultStore(path, clock)
    assert worker_b.active() == {}
    worker_a.switch_on("slow", {"seconds": 1.0}, 30)
    assert worker_b.params("slow") == {"seconds": 1.0}
    worker_a.switch_on("slow", {"seconds": 2.0}, 30)
    assert worker_b.params("slow") == {"seconds": 2.0}, "a worker kept a stale setting"
    worker_a.switch_off("slow")
    assert worker_b.params("slow") is None


def test_expired_knobs_are_dropped_from_the_file_at_the_next_change(tmp_path):
    clock = Clock()
    path = tmp_path / "faults.json"
    store = FaultStore(str(path), clock)
    store.switch_on("slow", {"seconds": 1.0}, 10)
    clock.now += 10
    store.switch_on("leak", {"blocks": 2}, 10)
    assert "slow" not in path.read_text(), path.read_text()


def test_a_failed_write_keeps_the_old_state_and_leaves_no_temp_file(tmp_path):
    store = FaultStore(str(tmp_path / "faults.json"), Clock())
    store.switch_on("slow", {"seconds": 1.0}, 30)
    with pytest.raises(ValueError):
        store.switch_on("leak", {"blocks": math.nan}, 30)  # not valid JSON: the write fails
    assert set(store.active()) == {"slow"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faults.json", "faults.json.lock"]


# --- the admin API ---------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path):
    """A Flask app with only the admin API, its knobs and a store on a hand-moved clock."""
    app = Flask("knob_test")
    register_error_handlers(app, logging.getLogger("knob_test"))
    clock = Clock()
    app.register_blueprint(admin_blueprint(FaultStore(str(tmp_path / "faults.json"), clock),
                                           (SLOW, LEAK, MODE), TOKEN))
    client = app.test_client()
    client.clock = clock
    return client


def listed(response):
    assert response.status_code == 200, response.get_json()
    return {fault["name"]: fault for fault in response.get_json()["faults"]}


def test_the_listing_shows_every_knob_with_its_parameters(api):
    faults = listed(api.get("/admin/faults", headers=AUTH))
    assert list(faults) == ["slow", "leak", "mode"]
    assert faults["slow"] == {
        "name": "slow", "description": "Everything gets slower.", "active": False, "params": None,
        "seconds_left": None,
        "parameters": {"seconds": {"type": "float", "default": 0.5, "minimum": 0.1, "maximum": 2.0}}}
    assert faults["mode"]["parameters"]["how"] == {"type": "str", "default": "crash", "minimum": None,
                                                  "maximum": None}


def test_a_knob_switched_on_is_listed_with_its_params_and_time_left(api):
    faults = listed(api.put("/admin/faults/slow", json={"seconds": 1.5, "duration_seconds": 60}, headers=AUTH))
    assert (faults["slow"]["active"], faults["slow"]["params"]) == (True, {"seconds": 1.5})
    assert faults["leak"]["active"] is False
    api.clock.now += 12.34
    faults = listed(api.get("/admin/faults", headers=AUTH))
    assert faults["slow"]["seconds_left"] == 47.7, "seconds left are rounded to a tenth"


@pytest.mark.parametrize("duration", [1, 3600, 1.5])
def test_a_duration_from_one_second_to_an_hour_is_accepted(api, duration):
    faults = listed(api.put("/admin/faults/leak", json={"duration_seconds": duration}, headers=AUTH))
    assert faults["leak"]["seconds_left"] == duration


@pytest.mark.parametrize("duration", [0.999, 3600.001, "60"])
def test_a_duration_just_outside_or_not_a_number_is_refused_with_the_range(api, duration):
    response = api.put("/admin/faults/leak", json={"duration_seconds": duration}, headers=AUTH)
    assert response.status_code == 400
    assert (response.get_json()["error"], response.get_json()["message"]) == (
        "invalid_duration", "duration_seconds must be a number from 1 to 3600.")
    assert listed(api.get("/admin/faults", headers=AUTH))["leak"]["active"] is False


def test_an_unknown_fault_is_a_404_naming_the_known_ones(api):
    response = api.put("/admin/faults/nope", headers=AUTH)
    assert response.status_code == 404
    assert (response.get_json()["error"], response.get_json()["message"]) == (
        "unknown_fault", "There is no fault nope; known faults: leak, mode, slow.")
    assert api.delete("/admin/faults/nope", headers=AUTH).status_code == 404


def test_switching_one_off_through_the_api_leaves_the_others_on(api):
    api.put("/admin/faults/slow", headers=AUTH)
    api.put("/admin/faults/leak", headers=AUTH)
    faults = listed(api.delete("/admin/faults/slow", headers=AUTH))
    assert (faults["slow"]["active"], faults["leak"]["active"]) == (False, True)
    faults = listed(api.delete("/admin/faults", headers=AUTH))
    assert not any(fault["active"] for fault in faults.values())


@pytest.mark.parametrize("header", [None, "", "Bearer ", f"Bearer {TOKEN}x", f"bearer {TOKEN}", TOKEN,
                                    f"Basic {TOKEN}", f"Bearer  {TOKEN}"])
def test_anything_but_the_exact_bearer_token_is_refused(api, header):
    headers = {} if header is None else {"Authorization": header}
    response = api.get("/admin/faults", headers=headers)
    assert response.status_code == 401, f"Authorization {header!r} was let in"
    assert response.get_json()["error"] == "unauthorized"
    assert response.get_json()["message"] == "The admin API needs the header 'Authorization: Bearer <FAULT_TOKEN>'."
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="faults"'


def test_with_no_token_configured_nobody_gets_in(tmp_path):
    app = Flask("knob_test_no_token")
    register_error_handlers(app, logging.getLogger("knob_test"))
    app.register_blueprint(admin_blueprint(FaultStore(str(tmp_path / "faults.json")), (SLOW,), ""))
    client = app.test_client()
    assert client.get("/admin/faults", headers={"Authorization": "Bearer "}).status_code == 401
    assert client.get("/admin/faults").status_code == 401


def test_everything_after_the_scheme_is_the_token_spaces_included(tmp_path):
    """A token an operator chose with a space in it ("FAULT_TOKEN='two words'") is compared whole: the
    credentials are everything after the first space (RFC 7235), not after the last one."""
    app = Flask("knob_test_spaced_token")
    register_error_handlers(app, logging.getLogger("knob_test"))
    app.register_blueprint(admin_blueprint(FaultStore(str(tmp_path / "faults.json")), (SLOW,), "two words"))
    client = app.test_client()
    assert client.get("/admin/faults", headers={"Authorization": "Bearer two words"}).status_code == 200
    assert client.get("/admin/faults", headers={"Authorization": "Bearer words"}).status_code == 401
