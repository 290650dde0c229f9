"""The inbox's refusals (app/inbox/payload.py) as the sender reads them.

A refusal is a whole sentence naming the field, and it echoes only a bounded
prefix of whatever odd value was sent (40 characters of a status or a
timestamp, 20 of a version), so a huge value never comes back in full.
"""
import pytest

from app.inbox.payload import PayloadError, parse_notification
from tests.helpers.alert_payloads import alert, payload


def refusal(body):
    """The PayloadError that parsing `body` raises."""
    with pytest.raises(PayloadError) as refused:
        parse_notification(body)
    return refused.value


def test_the_refusal_reads_as_its_message_when_printed():
    error = refusal([payload()])
    assert str(error) == error.message, "str() of a refusal must be its sentence, as logs and answers show it"


@pytest.mark.parametrize("body, message", [
    (["not", "an", "object"], "The body must be a JSON object (an Alertmanager webhook payload)."),
    ({**payload(), "alerts": []}, "The field alerts must be a non-empty list of alerts."),
    ({**payload(), "alerts": "ShopTargetDown"}, "The field alerts must be a non-empty list of alerts."),
    ({k: v for k, v in payload().items() if k != "status"}, "The field status is missing."),
])
def test_a_refused_body_gets_a_sentence_saying_what_is_wrong(body, message):
    assert refusal(body).message == message


def test_an_unsupported_version_is_named_in_the_refusal():
    error = refusal({**payload(), "version": "5"})
    assert error.reason == "unsupported_version"
    assert error.message.endswith("this one has version '5'."), error.message


def test_a_long_version_is_echoed_cut_to_twenty_characters():
    version = "9" * 30
    error = refusal({**payload(), "version": version})
    assert error.message.endswith(f"this one has version {version[:20]!r}."), error.message


def test_a_long_status_is_echoed_cut_to_forty_characters():
    status = "x" * 60
    error = refusal({**payload(), "status": status})
    assert error.message.endswith(f"not {status[:40]!r}."), error.message


def test_a_long_timestamp_is_echoed_cut_to_forty_characters():
    stamp = "2024-05-01T10:00:00" + "0" * 50
    error = refusal(payload(alert(), {**alert(), "startsAt": stamp}))
    assert error.message == (f"The field alerts[1].startsAt must be an RFC 3339 timestamp, not {stamp[:40]!r}."), (
        error.message)


def test_a_timestamp_in_other_digits_is_refused():
    stamp = "٢٠٢٤-05-01T10:00:00Z"  # Arabic-Indic digits: `\d` would match them
    error = refusal(payload({**alert(), "startsAt": stamp}))
    assert error.message.startswith("The field alerts[0].startsAt must be an RFC 3339 timestamp"), error.message


@pytest.mark.parametrize("count", [-1, 2**63, 10**30, 1e23, True])
def test_truncated_alerts_beyond_a_64_bit_count_are_refused(count):
    # Stored in an SQLite INTEGER: 2**63 would fail the insert with OverflowError (a 500) if let through.
    error = refusal({**payload(), "truncatedAlerts": count})
    assert error.message == "The field truncatedAlerts must be a whole number from 0 to 9223372036854775807."


def test_the_largest_truncated_count_is_accepted():
    assert parse_notification({**payload(), "truncatedAlerts": 2**63 - 1}).truncated_alerts == 2**63 - 1
