"""Fixtures the process tests share."""
import pytest

from tests.helpers.span_receiver import span_receiver


@pytest.fixture(scope="module")
def receiver():
    """A Zipkin v2 span receiver, one per test module: (endpoint, every span POSTed so far)."""
    with span_receiver() as received:
        yield received
