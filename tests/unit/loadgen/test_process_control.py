"""The load generator's side of the launcher's control files: what it writes, withdraws and reads back."""
import json
import os
import stat

import pytest

from loadgen.process_control import (
    CONTROL_DIR_VARIABLE,
    HoldDown,
    HoldDownError,
    ProcessControl,
    path_for,
    read,
    scan,
)

NOW = 1_767_225_600.0


@pytest.fixture
def control(tmp_path):
    """A control directory with a clock that stands still."""
    return ProcessControl(str(tmp_path), clock=lambda: NOW)


def test_hold_writes_until_when_and_who_readable_by_this_user_only(control, tmp_path):
    assert control.hold("shop", 120, "shop-down") == NOW + 120
    path = path_for(str(tmp_path), "shop")
    with open(path) as written:
        assert json.load(written) == {"until": NOW + 120, "scenario": "shop-down"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["shop.hold-down"], "the temp file was left behind"
    assert control.held() == {"shop": HoldDown("shop", NOW + 120, "shop-down")}


def test_a_second_hold_replaces_the_first_and_release_withdraws_it(control):
    control.hold("shop", 120, "shop-down")
    control.hold("shop", 30, "shop-down")
    assert control.held()["shop"].until == NOW + 30
    assert control.release("shop") is True
    assert control.held() == {}
    assert control.release("shop") is False, "nothing was held any more"


def test_a_request_whose_time_is_up_is_not_held(tmp_path):
    now = [NOW]
    control = ProcessControl(str(tmp_path), clock=lambda: now[0])
    control.hold("shop", 10, "shop-down")
    now[0] += 10
    assert control.held() == {}


def test_only_the_stoppable_services_can_be_held(control):
    with pytest.raises(ValueError, match="Only shop can be stopped by a scenario, not payments."):
        control.hold("payments", 10, "payments-down")


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not JSON"),
    ('{"scenario": "shop-down"}', 'does not give "until"'),
    ('{"until": true}', 'does not give "until"'),
    ('{"until": "soon"}', 'does not give "until"'),
    ('[1767225600]', 'does not give "until"'),
])
def test_a_malformed_file_is_a_problem_with_a_sentence_not_a_hold(tmp_path, content, message):
    path = tmp_path / "shop.hold-down"
    path.write_text(content)
    with pytest.raises(HoldDownError, match=message) as error:
        read(str(path))
    assert str(error.value).endswith(".")
    holds, problems = scan(str(tmp_path))
    assert holds == {} and list(problems) == [str(path)]


def test_scan_ignores_temp_files_and_strangers_and_a_missing_directory(tmp_path):
    (tmp_path / ".shopabc.tmp").write_text("{")  # a writer's half-written temp file
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "shop.hold-down").write_text(json.dumps({"until": NOW}))
    holds, problems = scan(str(tmp_path))
    assert holds == {"shop": HoldDown("shop", NOW, "unknown")} and problems == {}
    assert scan(str(tmp_path / "missing")) == ({}, {})


def test_the_control_directory_comes_from_the_launcher_or_there_is_none():
    assert ProcessControl.from_env({}) is None
    assert ProcessControl.from_env({CONTROL_DIR_VARIABLE: " "}) is None
    assert ProcessControl.from_env({CONTROL_DIR_VARIABLE: "/run/stack/control"}).directory == "/run/stack/control"
