"""The launcher's stop signals: the first SIGINT, SIGTERM or SIGHUP asks for a stop; later ones are ignored.

The handler only records the signal; the launcher checks for it at points of
its own choosing (between start-up steps, in its waits, in its main loop). So
no signal can cut the shutdown short: a SIGTERM sent to the process group of
`make local` reaches the launcher twice (make forwards it), and raising an
exception from the handler used to abort the cleanup and orphan the stack.
SIGHUP (the terminal closed) stops the stack like Ctrl-C instead of killing
the launcher outright.
"""
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_received = []


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; the stack is stopped before the launcher exits."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _record(signum, _frame):
    """Signal handler: remember the first stop signal; ignore the rest."""
    if not _received:
        _received.append(signum)


def install():
    """Take over the stop signals for this process (call once, from the main thread)."""
    _received.clear()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _record)


def requested():
    """The first stop signal received (a signal number), or None."""
    return _received[0] if _received else None


def check():
    """Raise Interrupted once a stop signal arrived: call it wherever a start-up may be abandoned."""
    if _received:
        raise Interrupted(_received[0])
