"""Markers by folder, and shared fixtures: Flask apps for unit tests, the native stack for stack tests."""
import os
import tempfile
from pathlib import Path

import pytest

# prometheus_client reads this at import time: unit tests run in multiprocess mode too,
# exactly like production, in a directory of their own.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="unit-metrics-")

from launcher.stack import Stack  # noqa: E402
from processes.ports import free_port  # noqa: E402
from tests.helpers.servers import TEST_TOKEN  # noqa: E402

LEVELS = ("unit", "config", "process", "stack", "compose")
SLOW_LEVELS = {"process", "stack", "compose"}


def pytest_collection_modifyitems(items):
    """Mark every test with its level: the folder it lives in (tests/unit/..., tests/stack/...)."""
    tests_dir = Path(__file__).parent
    for item in items:
        level = Path(item.path).relative_to(tests_dir).parts[0]
        if level not in LEVELS:
            raise pytest.UsageError(f"{item.nodeid} is outside the level folders {', '.join(LEVELS)}; move it.")
        item.add_marker(level)
        if level in SLOW_LEVELS:
            item.add_marker("slow")


@pytest.fixture
def shop_app(tmp_path):
    """A shop app on a temp database, pointing at a payments URL nothing listens on unless a test sets it."""
    from app.shop import create_app
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "shop"), "FAULT_TOKEN": TEST_TOKEN,
                       "PAYMENTS_URL": f"http://127.0.0.1:{free_port()}"})


@pytest.fixture
def payments_app(tmp_path):
    """A payments app on a temp database."""
    from app.payments import create_app
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "payments"), "FAULT_TOKEN": TEST_TOKEN,
                       "CHARGE_MEDIAN_SECONDS": 0.001, "QUOTE_MEDIAN_SECONDS": 0.001})


@pytest.fixture(scope="session")
def native_stack(tmp_path_factory):
    """The whole native stack in fast mode, shared by the integration tests.

    Tests that switch a fault on must switch it off in a `finally`.
    """
    stack = Stack(str(tmp_path_factory.mktemp("native-stack")), fast=True)
    with stack:
        yield stack
