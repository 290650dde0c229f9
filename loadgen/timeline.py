"""Read a scenario's story out of the inbox: which alert series fired because of it, when, and when they resolved.

Pure functions over inbox alert entries (oldest first), so the drill's
bookkeeping is tested without a stack. An alert series is a fingerprint. A
series already firing when the scenario started is "carried over" and not
credited to it, even though Alertmanager repeats it in later notifications;
once it resolves, a new firing counts again.
"""
from collections.abc import Collection, Iterable, Mapping
from typing import Any

# One alert entry as the inbox's GET /api/alerts returns it (fingerprint, status, alertname, received_at, ...).
Entry = dict[str, Any]


def new_firings(entries: Iterable[Entry], carried: Iterable[str]) -> dict[str, Entry]:
    """{fingerprint: first firing entry} of series that started firing after the trigger."""
    still_carried = set(carried)
    first: dict[str, Entry] = {}
    for entry in entries:
        fingerprint = entry["fingerprint"]
        if entry["status"] == "resolved":
            still_carried.discard(fingerprint)
        elif fingerprint not in still_carried and fingerprint not in first:
            first[fingerprint] = entry
    return first


def detection_times(firings: Mapping[str, Entry], names: Iterable[str],
                    triggered_at: float) -> dict[str, float | None]:
    """{alert name: seconds from trigger to its first new firing notification, or None}."""
    times: dict[str, float | None] = {}
    for name in names:
        received = [entry["received_at"] for entry in firings.values() if entry["alertname"] == name]
        times[name] = round(min(received) - triggered_at, 1) if received else None
    return times


def latest_entries(entries: Iterable[Entry], fingerprints: Collection[str]) -> dict[str, Entry]:
    """{fingerprint: its newest entry} of the given series (entries oldest first)."""
    latest: dict[str, Entry] = {}
    for entry in entries:
        if entry["fingerprint"] in fingerprints:
            latest[entry["fingerprint"]] = entry
    return latest


def resolution_times(entries: Iterable[Entry], fingerprints: Collection[str],
                     cleared_at: float) -> dict[str, float | None]:
    """{fingerprint: seconds from clear to its resolved notification, or None while still firing}."""
    latest = latest_entries(entries, fingerprints)
    return {fp: (round(max(0.0, latest[fp]["received_at"] - cleared_at), 1)
                 if fp in latest and latest[fp]["status"] == "resolved" else None)
            for fp in fingerprints}


def by_name(per_fingerprint: Mapping[str, float | None], firings: Mapping[str, Entry]) -> dict[str, float | None]:
    """Fold {fingerprint: seconds|None} into {alert name: slowest seconds, or None if any is unresolved}."""
    result: dict[str, float | None] = {}
    for fingerprint, seconds in per_fingerprint.items():
        name = firings[fingerprint]["alertname"]
        if name in result and result[name] is None:
            continue
        result[name] = None if seconds is None else max(seconds, result.get(name) or 0.0)
    return result
