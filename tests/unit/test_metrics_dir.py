"""The multiprocess metrics directory: private by default, and its wipe never reaches outside it.

The audit: without PROMETHEUS_MULTIPROC_DIR the directory was a predictable
path in the shared temp dir, and the wipe followed a planted symlink and
deleted another directory's files.
"""
import os
import stat

import pytest

from app.common.multiprocess_metrics import wipe
from app.serve import metrics_directory


def victim(tmp_path):
    """A directory of files that must survive every wipe below."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "precious.db").write_text("keep me")
    return folder


def test_default_directory_is_fresh_and_private_each_start():
    first, second = metrics_directory("shop", 8000, {}), metrics_directory("shop", 8000, {})
    try:
        assert first != second
        for path in (first, second):
            assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700 and not os.path.islink(path)
            assert os.listdir(path) == []
    finally:
        os.rmdir(first)
        os.rmdir(second)
    assert metrics_directory("shop", 8000, {"PROMETHEUS_MULTIPROC_DIR": "/srv/m"}) == "/srv/m"


def test_wipe_empties_its_own_directory(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    (folder / "counter_1.db").write_bytes(b"x")
    (folder / ".compaction.lock").write_bytes(b"")
    wipe(str(folder))
    assert os.listdir(folder) == []


def test_wipe_refuses_a_planted_symlink_to_another_directory(tmp_path):
    target = victim(tmp_path)
    planted = tmp_path / "metrics"
    planted.symlink_to(target)
    with pytest.raises(RuntimeError, match="symlink"):
        wipe(str(planted))
    assert (target / "precious.db").read_text() == "keep me"


def test_wipe_removes_a_link_inside_but_not_its_target(tmp_path):
    target = victim(tmp_path)
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o700)
    (folder / "counter_1.db").symlink_to(target / "precious.db")
    (folder / "gauge_1.db").symlink_to(target)
    wipe(str(folder))
    assert os.listdir(folder) == [] and (target / "precious.db").read_text() == "keep me"


def test_wipe_refuses_a_directory_others_may_write_to(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    folder.chmod(0o777)
    (folder / "counter_1.db").write_bytes(b"x")
    with pytest.raises(RuntimeError, match="writable by other users"):
        wipe(str(folder))
    assert os.listdir(folder) == ["counter_1.db"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_wipe_refuses_a_directory_of_another_user(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir(mode=0o755)
    (folder / "counter_1.db").write_bytes(b"x")
    os.chown(folder, 54321, 54321)
    with pytest.raises(RuntimeError, match="belongs to uid 54321"):
        wipe(str(folder))
    assert os.listdir(folder) == ["counter_1.db"]
