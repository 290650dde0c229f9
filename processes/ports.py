"""Loopback ports: free ones for services started by tests, and who holds a busy one."""
import errno
import os
import socket

# /proc/net/tcp socket states that keep a port from being bound (TIME_WAIT does not, with SO_REUSEADDR).
_LISTEN = "0A"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def port_bindable(port, host="127.0.0.1"):
    """True when a server could listen on host:port now (SO_REUSEADDR, as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
        return True


def _socket_inodes(port):
    """Inodes of the TCP sockets bound to `port` (listening ones first), from /proc/net/tcp and tcp6."""
    listening, other = [], []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows, None)
                for row in rows:
                    fields = row.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                        (listening if fields[3] == _LISTEN else other).append(fields[9])
        except OSError:
            continue
    return listening or other


def _command_line(pid, limit=100):
    """A process's command line, shortened for one line of text."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as source:
            text = " ".join(source.read().replace(b"\0", b" ").decode(errors="replace").split())
    except OSError:
        return "?"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def port_holders(port):
    """[(pid, command line)] of the processes holding a TCP socket on `port`, read from /proc.

    Processes of other users are invisible without privileges: the list can be
    empty even though the port is busy.
    """
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(port)}
    holders = []
    if not wanted:
        return holders
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        if _open_files(entry) & wanted:
            holders.append((int(entry), _command_line(entry)))
    return sorted(holders)


def _open_files(pid):
    """What a process's file descriptors point at; empty when it is gone or another user's."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return set()
    links = set()
    for fd in fds:
        try:
            links.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:  # closed meanwhile (the listing's own descriptor, for one)
            continue
    return links
