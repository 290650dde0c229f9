"""Debian's Chromium driven by Playwright (no browser download): for the stack tests and `make screenshots`."""
import contextlib
from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
# No sandbox: the tests run as root in CI; nothing but our own loopback pages is opened.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def launched() -> Iterator:
    """A headless Chromium, closed (with its driver) even when the caller fails."""
    from playwright import sync_api as playwright  # a development dependency: imported only where used
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
