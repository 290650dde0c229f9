"""Before a stack starts anything: one stack per work directory, and every port it needs free.

Without these checks a second `make local` rewrote the first one's configs and
then failed half-way, and a busy port showed as "The stack is up" followed by
"... stopped unexpectedly", the cause buried in a log.
"""
import fcntl
import json
import os

from processes.ports import port_bindable, port_holders


class Busy(RuntimeError):
    """Another stack runs from the same work directory, or a port the stack needs is taken."""


class WorkdirLock:
    """An exclusive lock on a work directory, with a note of what runs there for whoever finds it taken.

    The kernel drops the lock when its holder exits, however it exits (SIGKILL included).
    """

    def __init__(self, workdir):
        self.workdir = workdir
        self.lock_path = os.path.join(workdir, "stack.lock")
        self.note_path = os.path.join(workdir, "stack.json")
        self.fd = None

    def acquire(self):
        """Take the lock, or raise Busy naming the running stack's PIDs and ports."""
        os.makedirs(self.workdir, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Busy(self.describe_holder()) from None
        self.fd = fd
        return self

    def record(self, ports, pids):
        """Write what this stack runs ({name: port}, {name: pid}) where a second launcher reads it."""
        note = {"launcher_pid": os.getpid(), "ports": ports, "pids": pids}
        temporary = self.note_path + ".tmp"
        with open(temporary, "w") as out:
            json.dump(note, out)
        os.replace(temporary, self.note_path)  # a reader never sees half a file

    def release(self):
        """Remove the note and drop the lock."""
        if self.fd is None:
            return
        try:
            os.unlink(self.note_path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None

    def describe_holder(self):
        """A message naming the stack that holds the lock: its launcher, processes and ports."""
        try:
            with open(self.note_path) as source:
                note = json.load(source)
        except (OSError, ValueError):
            return (f"Another stack is already running from {self.workdir} (it holds {self.lock_path}; "
                    "its PIDs are not known yet: it may still be starting). Stop it first.")
        ports, pids = note.get("ports", {}), note.get("pids", {})
        parts = []
        for name in dict.fromkeys([*pids, *ports]):
            pid = f"PID {pids[name]}" if name in pids else "not started yet"
            parts.append(f"{name} {pid}" + (f" on port {ports[name]}" if name in ports else ""))
        launcher = note.get("launcher_pid")
        return (f"make local is already running from {self.workdir} (launcher PID {launcher}): "
                f"{', '.join(parts)}. Stop it first (Ctrl-C in its terminal, or kill {launcher}).")


def check_ports(ports, variables):
    """Raise Busy, one line per port, when a port in `ports` ({name: port}) cannot be listened on now.

    `variables` maps a name to the environment variable that moves its port.
    """
    lines = []
    for name, port in ports.items():
        if port_bindable(port):
            continue
        holders = port_holders(port)
        held = ", ".join(f"PID {pid} ({command})" for pid, command in holders) or (
            "a process this user cannot see (`ss -ltnp` as root names it)")
        lines.append(f"Port {port} for {name} ({variables[name]}) is already in use by {held}.")
    if lines:
        lines.append("Nothing was started. Stop what holds the port, or choose another one, "
                     "e.g. `SHOP_PORT=18000 make local`.")
        raise Busy("\n".join(lines))
