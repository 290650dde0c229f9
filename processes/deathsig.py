"""Children that die with their parent: Linux's PR_SET_PDEATHSIG, set between fork and exec.

A parent that is SIGKILLed (or crashes) runs no cleanup, and children started
in their own session receive no terminal or group signal: without a death
signal they run on with parent 1 and keep their ports. The kernel sends the
death signal when the *thread* that forked the child exits, so start children
from a long-lived thread (the launcher and the tests use the main thread).
"""
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def _load_prctl():
    """libc's prctl, or None off Linux (there the backstop is simply missing)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()  # looked up once in the parent: no dynamic loading between fork and exec


def die_with_parent(signum=signal.SIGTERM):
    """A `preexec_fn` that gives the child `signum` when the calling thread's process goes away.

    SIGTERM rather than SIGKILL: the child is a group leader (a gunicorn master,
    a Go server) that stops its own workers on SIGTERM, which SIGKILL would
    orphan. A parent that died between fork and prctl is caught by comparing
    the parent pid afterwards.
    """
    parent = os.getpid()

    def preexec():
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + int(signum))
    return preexec
