"""Fixtures of the stack tests that drive a real browser."""
import pytest

from processes import chromium


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (no browser download); closed even when the test fails."""
    with chromium.launched() as browser_process:
        yield browser_process
