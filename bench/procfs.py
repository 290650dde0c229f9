"""What /proc says about a process tree: its members, resident memory and CPU time.

Memory is reported two ways: RSS summed over a tree (the plain number a
user sees in `ps`, which counts pages shared by forked gunicorn workers once
per worker) and PSS (each shared page split between its users, so tree
totals add up).
"""
import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    return text[text.rindex(")") + 2:].split()


def parents():
    """{pid: parent pid} of every process visible now."""
    result = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                result[int(entry)] = int(_stat_fields(entry)[1])
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
    return result


def tree(pid):
    """pid and all its descendants that are alive now."""
    children = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def children(pid):
    """The direct children of pid (gunicorn's workers, for its master)."""
    return sorted(child for child, parent in parents().items() if parent == pid)


def _status_kib(pid, path, key):
    try:
        with open(f"/proc/{pid}/{path}") as source:
            for line in source:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pid):
    """{"rss_bytes", "pss_bytes", "processes"} summed over pid's process tree."""
    members = tree(pid)
    rss = sum(_status_kib(p, "status", "VmRSS") for p in members)
    pss = sum(_status_kib(p, "smaps_rollup", "Pss") for p in members)
    return {"rss_bytes": rss * 1024, "pss_bytes": pss * 1024, "processes": len(members)}


def cpu_seconds(pids):
    """User + system CPU seconds used so far by the given (living) processes."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS
