"""Start and stop the stack's processes by id, each with its own log file."""
import os
import signal
import subprocess
import time

from processes.deathsig import die_with_parent

STOP_GRACE_SECONDS = 10


class ManagedProcess:
    """One child process in its own process group (so gunicorn's workers stop with it).

    The child gets SIGTERM if its parent dies without stopping it (`deathsig`).
    """

    def __init__(self, name, command, env, log_path, cwd=None):
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.process = None

    @property
    def pid(self):
        """The process id (None before start)."""
        return self.process.pid if self.process else None

    def start(self):
        """Start the process, appending its output to its log file."""
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True, preexec_fn=die_with_parent())
        finally:
            log.close()
        return self

    def running(self):
        """True while the process has not exited."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=30):
        """The last lines of the process's log, for error messages."""
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def signal(self, signum):
        """Send a signal to the whole process group."""
        if self.running():
            try:
                os.killpg(self.process.pid, signum)
            except ProcessLookupError:
                pass

    def stop(self, grace=STOP_GRACE_SECONDS):
        """SIGTERM the group, wait, then SIGKILL whatever is left."""
        stop_all([self], grace)

    def finish(self, deadline):
        """Wait for the process until `deadline` (monotonic), then SIGKILL its group and reap it."""
        if self.process is None:
            return
        while self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers in the group (workers), if any
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=5)


def stop_all(processes, grace=STOP_GRACE_SECONDS):
    """Stop several processes at once: SIGTERM every group, one shared deadline, then SIGKILL.

    Bounded by `grace` plus a moment, however many processes there are (one
    after the other, a stack of nine would take up to nine times as long).
    """
    processes = [process for process in processes if process.process is not None]
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        process.finish(deadline)
