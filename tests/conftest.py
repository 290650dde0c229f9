"""Shared fixtures: Flask apps for unit tests, real services and the native stack for integration tests."""
import os
import sys
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# prometheus_client reads this at import time: unit tests run in multiprocess mode too,
# exactly like production, in a directory of their own.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="unit-metrics-")

from native.ports import free_port  # noqa: E402
from native.stack import Stack  # noqa: E402
from native.waiting import poll_until  # noqa: E402

from tests.servers import TEST_TOKEN  # noqa: E402

__all__ = ["free_port", "poll_until"]


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
