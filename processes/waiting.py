"""Waiting done right: poll a condition until a deadline, and say what was awaited."""
import time


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline."""


def poll_until(check, description, timeout, interval=0.2):
    """Call `check` until it returns something truthy; return that value.

    Exceptions from `check` count as "not yet" (a server still starting refuses
    connections); the last one is reported if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = check()
            if result:
                return result
            last = f"last result: {result!r}"
        except Exception as error:  # noqa: BLE001 - any failure means "not yet"
            last = f"last error: {type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"Timed out after {timeout:.0f} s waiting for {description} ({last}).")
        time.sleep(interval)
