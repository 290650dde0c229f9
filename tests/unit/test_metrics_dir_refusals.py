"""The metrics directory's guards (app/common/multiprocess_metrics.py): what is created, accepted, refused.

test_metrics_dir.py covers the planted symlink and the foreign owner; here:
the directory wipe creates is private, one others may only read is still
ours to empty, a path swapped for a file is refused, and every refusal is a
sentence saying what to do.
"""
import os
import stat

import pytest

from app.common import multiprocess_metrics
from app.common.multiprocess_metrics import multiprocess_dir, wipe


def test_without_the_variable_the_service_is_told_how_to_start(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    with pytest.raises(RuntimeError) as refused:
        multiprocess_dir()
    assert str(refused.value) == (
        "PROMETHEUS_MULTIPROC_DIR is not set. Start the service with "
        "`python -m app.serve NAME`, which sets and wipes it before gunicorn starts.")


def test_with_the_variable_the_directory_is_its_value(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert multiprocess_dir() == str(tmp_path)


def test_wipe_creates_a_missing_directory_private_to_this_user(tmp_path):
    folder = tmp_path / "metrics"
    wipe(str(folder))
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700, oct(os.lstat(folder).st_mode)


@pytest.mark.parametrize("mode", [0o755, 0o701])
def test_wipe_empties_a_directory_others_may_read_but_not_write(tmp_path, mode):
    folder = tmp_path / "metrics"
    folder.mkdir()
    folder.chmod(mode)
    (folder / "counter_1.db").write_bytes(b"x")
    wipe(str(folder))
    assert os.listdir(folder) == [], f"a directory of mode {oct(mode)} was not emptied"


def test_the_refusal_of_a_writable_directory_shows_its_mode(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    folder.chmod(0o722)
    with pytest.raises(RuntimeError) as refused:
        wipe(str(folder))
    assert str(refused.value) == (f"The metrics directory {folder} is writable by other users (mode 0o722); "
                                  "refusing to use it.")


def test_the_refusal_of_a_symlink_says_it_will_not_empty_it(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    planted = tmp_path / "metrics"
    planted.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RuntimeError) as refused:
        wipe(str(planted))
    message = str(refused.value)
    assert message.startswith(f"The metrics directory {planted} is a symlink or not a directory (")
    assert message.endswith("); refusing to empty it."), message


def test_a_path_swapped_for_a_file_after_creation_is_refused(tmp_path, monkeypatch):
    """The race the wipe guards against: between creating the directory and opening it, a file takes its place."""
    folder = tmp_path / "metrics"

    def create_then_swap(path, mode=0o777, exist_ok=False):
        (tmp_path / "metrics").write_text("planted")

    monkeypatch.setattr(multiprocess_metrics.os, "makedirs", create_then_swap)
    with pytest.raises(RuntimeError, match="not a directory"):
        wipe(str(folder))
    monkeypatch.undo()
    assert folder.read_text() == "planted"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_the_refusal_of_another_users_directory_says_what_to_do(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o755)
    os.chown(folder, 54321, 54321)
    with pytest.raises(RuntimeError) as refused:
        wipe(str(folder))
    assert str(refused.value) == (
        f"The metrics directory {folder} belongs to uid 54321, not to this user; refusing to empty it. "
        "Set PROMETHEUS_MULTIPROC_DIR to a directory of your own.")
