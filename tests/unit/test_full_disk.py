"""A full disk (issue 13, item 8): 503 JSON instead of 500s, /healthz says not ready, no temp file left.

The disk is a real one: a small tmpfs mounted for the test and filled up with a file, so every
write the service makes meets a real ENOSPC. Mounting needs root (as in CI and on the
development machines); elsewhere the test is skipped and says why.
"""
import errno
import os
import subprocess

import pytest

from app.shop.payments_client import payments_client
from tests.helpers.errors import assert_error
from tests.helpers.servers import TEST_TOKEN, ThreadedServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
DISK_SIZE = "4m"


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs, unmounted afterwards whatever happens."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory):
    """Write a file until the disk is full; return its path."""
    path = os.path.join(directory, "filler")
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    with open(path, "ab", buffering=0) as filler:  # the last partial page too
        try:
            while True:
                filler.write(b"\0")
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return path


@pytest.fixture
def shop_on_small_disk(small_disk, payments_app):
    from app.shop import create_app
    shop = create_app({"TESTING": True, "DATA_DIR": str(small_disk / "shop"), "FAULT_TOKEN": TEST_TOKEN})
    payments_app.config["DECLINE_RATIO"] = 0.0
    with ThreadedServer(payments_app) as server:
        payments_client(shop).base_url = server.url
        yield shop.test_client(), small_disk


def test_a_full_disk_is_503_json_not_ready_and_leaves_no_temp_file(shop_on_small_disk):
    client, disk = shop_on_small_disk
    cart_id = client.post("/api/carts").get_json()["id"]
    assert client.put("/admin/faults/slow_code", json={"duration_seconds": 60}, headers=AUTH).status_code == 200
    assert client.get("/healthz").status_code == 200
    files_before = set(os.listdir(disk / "shop"))

    filler = fill(disk)
    # A fault switch (the fault store writes a temp file, then renames it).
    assert_error(client.put("/admin/faults/route_errors", json={"ratio": 0.5}, headers=AUTH), 503, "storage_full")
    assert not [name for name in os.listdir(disk / "shop") if name not in files_before and
                not name.startswith("shop.sqlite3")], "a temp file was left behind"
    assert client.get("/admin/faults", headers=AUTH).get_json()["faults"][0]["active"]  # old state kept
    # A database write, from the API and from a page (JSON asked for).
    response = client.post("/api/carts")
    assert_error(response, 503, "storage_full")
    assert response.headers["Retry-After"]
    assert_error(client.post("/cart/items", data={"product_id": "1"}, headers={"Accept": "application/json"}),
                 503, "storage_full")
    # Readiness says so, in JSON with a sentence.
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "unavailable" and health.get_json()["message"].endswith(".")

    os.unlink(filler)
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/carts").status_code == 201
    assert client.get(f"/api/carts/{cart_id}").status_code == 200  # nothing was lost
    assert client.put("/admin/faults/route_errors", json={"ratio": 0.5}, headers=AUTH).status_code == 200


def test_healthz_reflects_the_database(shop_app):
    client = shop_app.test_client()
    assert client.get("/healthz").status_code == 200
    os.unlink(shop_app.config["DATABASE"])
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "database" in response.get_json()["message"]
