"""Validate an Alertmanager webhook payload (version 4) into plain Python values.

Alertmanager always sends every field below; a body that lacks one, or has a
field of the wrong type, did not come from Alertmanager and is refused with a
sentence naming the field. Optional fields get Alertmanager's own defaults.
"""
import re
from dataclasses import dataclass

SUPPORTED_VERSION = "4"
STATUSES = ("firing", "resolved")
# Alertmanager counts truncated alerts in a uint64; SQLite stores at most a signed 64-bit integer.
MAX_TRUNCATED_ALERTS = 2**63 - 1
# RFC 3339 as Alertmanager writes it (Go's time.Time: up to nanoseconds, Z or offset).
# ASCII digits only: `\d` would take '٢٠٢٦' too. openapi.yaml's Timestamp has the same pattern (a test holds them).
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$"
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
# Go's zero time: what Alertmanager sends as endsAt while an alert has no end yet.
ZERO_TIME = "0001-01-01T00:00:00Z"


class PayloadError(ValueError):
    """The payload is not one we accept; `reason` is a closed metric label value."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Alert:
    """One alert inside a notification."""
    status: str
    labels: dict
    annotations: dict
    starts_at: str
    ends_at: str
    generator_url: str
    fingerprint: str


@dataclass(frozen=True)
class Notification:
    """One webhook call: a group of alerts Alertmanager notified about together."""
    status: str
    receiver: str
    group_key: str
    group_labels: dict
    common_labels: dict
    common_annotations: dict
    external_url: str
    truncated_alerts: int
    alerts: tuple


def _invalid(message):
    """A PayloadError for a payload with a missing or mistyped field."""
    return PayloadError("invalid_payload", message)


def _string(obj, key, where, default=None):
    """A string field (or its default); raise if missing or not a string."""
    value = obj.get(key, default)
    if value is None:
        raise _invalid(f"The field {where}{key} is missing.")
    if not isinstance(value, str):
        raise _invalid(f"The field {where}{key} must be a string.")
    return value


def _status(obj, where):
    """The status field: firing or resolved."""
    value = _string(obj, "status", where)
    if value not in STATUSES:
        raise _invalid(f"The field {where}status must be 'firing' or 'resolved', not {value[:40]!r}.")
    return value


def _label_map(obj, key, where, required=False):
    """A labels/annotations object: string keys (JSON guarantees them) and string values."""
    value = obj.get(key)
    if value is None:
        if required:
            raise _invalid(f"The field {where}{key} is missing.")
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _invalid(f"The field {where}{key} must be an object whose values are strings.")
    return dict(value)


def _timestamp(obj, key, where, default=None):
    """An RFC 3339 timestamp field, kept as the string Alertmanager sent."""
    value = _string(obj, key, where, default)
    if not _TIMESTAMP.match(value):
        raise _invalid(f"The field {where}{key} must be an RFC 3339 timestamp, not {value[:40]!r}.")
    return value


def _alert(raw, index):
    """One entry of alerts, validated."""
    where = f"alerts[{index}]."
    if not isinstance(raw, dict):
        raise _invalid(f"Each entry of alerts must be an object; alerts[{index}] is not.")
    return Alert(
        status=_status(raw, where),
        labels=_label_map(raw, "labels", where, required=True),
        annotations=_label_map(raw, "annotations", where),
        starts_at=_timestamp(raw, "startsAt", where),
        ends_at=_timestamp(raw, "endsAt", where, ZERO_TIME),
        generator_url=_string(raw, "generatorURL", where, ""),
        fingerprint=_string(raw, "fingerprint", where),
    )


def parse_notification(body):
    """Turn decoded JSON into a Notification, or raise PayloadError."""
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object (an Alertmanager webhook payload).")
    version = body.get("version")
    if version != SUPPORTED_VERSION:
        raise PayloadError("unsupported_version",
                           f"Only Alertmanager webhook payload version {SUPPORTED_VERSION} is supported; "
                           f"this one has version {str(version)[:20]!r}.")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise _invalid("The field alerts must be a non-empty list of alerts.")
    truncated = body.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or not 0 <= truncated <= MAX_TRUNCATED_ALERTS:
        raise _invalid(f"The field truncatedAlerts must be a whole number from 0 to {MAX_TRUNCATED_ALERTS}.")
    return Notification(
        status=_status(body, ""),
        receiver=_string(body, "receiver", ""),
        group_key=_string(body, "groupKey", ""),
        group_labels=_label_map(body, "groupLabels", ""),
        common_labels=_label_map(body, "commonLabels", ""),
        common_annotations=_label_map(body, "commonAnnotations", ""),
        external_url=_string(body, "externalURL", "", ""),
        truncated_alerts=truncated,
        alerts=tuple(_alert(raw, index) for index, raw in enumerate(alerts)),
    )
