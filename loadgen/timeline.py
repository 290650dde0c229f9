"""Read a scenario's story out of the inbox: which alert series fired because of it, when, and when they resolved.

Pure functions over inbox alert entries (oldest first), so the drill's
bookkeeping is tested without a stack. An alert series is a fingerprint. A
series already firing when the scenario started is "carried over" and not
credited to it, even though Alertmanager repeats it in later notifications;
once it resolves, a new firing counts again.
"""


def new_firings(entries, carried):
    """{fingerprint: first firing entry} of series that started firing after the trigger."""
    still_carried = set(carried)
    first = {}
    for entry in entries:
        fingerprint = entry["fingerprint"]
        if entry["status"] == "resolved":
            still_carried.discard(fingerprint)
        elif fingerprint not in still_carried and fingerprint not in first:
            first[fingerprint] = entry
    return first


def detection_times(firings, names, triggered_at):
    """{alert name: seconds from trigger to its first new firing notification, or None}."""
    times = {}
    for name in names:
        received = [entry["received_at"] for entry in firings.values() if entry["alertname"] == name]
        times[name] = round(min(received) - triggered_at, 1) if received else None
    return times


def resolution_times(entries, fingerprints, cleared_at):
    """{fingerprint: seconds from clear to its resolved notification, or None while still firing}."""
    latest = {}
    for entry in entries:
        if entry["fingerprint"] in fingerprints:
            latest[entry["fingerprint"]] = entry
    return {fp: (round(max(0.0, latest[fp]["received_at"] - cleared_at), 1)
                 if fp in latest and latest[fp]["status"] == "resolved" else None)
            for fp in fingerprints}


def by_name(per_fingerprint, firings):
    """Fold {fingerprint: seconds|None} into {alert name: slowest seconds, or None if any is unresolved}."""
    result = {}
    for fingerprint, seconds in per_fingerprint.items():
        name = firings[fingerprint]["alertname"]
        if name in result and result[name] is None:
            continue
        result[name] = None if seconds is None else max(seconds, result.get(name) or 0.0)
    return result
