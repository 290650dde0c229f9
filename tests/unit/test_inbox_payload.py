"""The inbox's webhook payload validation (app/inbox/payload.py), field by field, without Flask.

Every field Alertmanager sends is checked for its type: a payload with any one
field wrong is refused with a sentence naming that field. The route-level
tests (test_inbox.py) check the 400 answer and that nothing is stored.
"""
import copy

import pytest

from app.inbox.payload import ZERO_TIME, PayloadError, parse_notification
from tests.helpers.alert_payloads import alert, payload, replaced


def with_field(path, value):
    """A valid payload with the field at `path` (keys and list indexes) set to `value`."""
    return replaced(payload(alert(), alert("ShopTargetDown", status="resolved")), path, value)


WRONG_FIELDS = [
    # (field path, a value of the wrong type or shape, the field the refusal must name)
    (("status",), "pending", "status"),
    (("receiver",), 7, "receiver"),
    (("groupKey",), ["a"], "groupKey"),
    (("groupLabels",), "alertname=X", "groupLabels"),
    (("groupLabels", "alertname"), 1, "groupLabels"),
    (("commonLabels",), ["severity"], "commonLabels"),
    (("commonAnnotations",), {"summary": None, "other": 2}, "commonAnnotations"),
    (("externalURL",), 9093, "externalURL"),
    (("truncatedAlerts",), 1.5, "truncatedAlerts"),
    (("alerts", 1, "status"), "pending", "alerts[1].status"),
    (("alerts", 1, "labels"), "alertname", "alerts[1].labels"),
    (("alerts", 1, "annotations", "summary"), 3, "alerts[1].annotations"),
    (("alerts", 1, "startsAt"), "2024-05-01 10:00:00", "alerts[1].startsAt"),
    (("alerts", 1, "endsAt"), "soon", "alerts[1].endsAt"),
    (("alerts", 1, "endsAt"), 1714557900, "alerts[1].endsAt"),
    (("alerts", 1, "generatorURL"), {"url": "http://prometheus:9090"}, "alerts[1].generatorURL"),
    (("alerts", 1, "fingerprint"), 123, "alerts[1].fingerprint"),
]


@pytest.mark.parametrize("path, value, field", WRONG_FIELDS,
                         ids=[f"{'.'.join(map(str, path))}={value!r}" for path, value, _ in WRONG_FIELDS])
def test_a_field_of_the_wrong_type_is_refused_by_name(path, value, field):
    with pytest.raises(PayloadError) as refused:
        parse_notification(with_field(path, value))
    assert refused.value.reason == "invalid_payload"
    assert f"field {field} " in refused.value.message, (
        f"The refusal of a wrong {field} does not name it: {refused.value.message}")


@pytest.mark.parametrize("value", ["2024-05-01T10:05:00Z", "2024-05-01T10:05:00.123456789+02:00", ZERO_TIME])
def test_ends_at_accepts_rfc3339_and_go_zero_time(value):
    notification = parse_notification(with_field(("alerts", 1, "endsAt"), value))
    assert notification.alerts[1].ends_at == value


def test_optional_fields_get_alertmanagers_defaults():
    body = payload(alert())
    for key in ("groupLabels", "commonLabels", "commonAnnotations", "externalURL", "truncatedAlerts"):
        del body[key]
    for key in ("annotations", "endsAt", "generatorURL"):
        del body["alerts"][0][key]
    notification = parse_notification(body)
    assert (notification.group_labels, notification.common_labels, notification.common_annotations) == ({}, {}, {})
    assert (notification.external_url, notification.truncated_alerts) == ("", 0)
    first = notification.alerts[0]
    assert (first.annotations, first.ends_at, first.generator_url) == ({}, ZERO_TIME, "")


def test_a_valid_payload_keeps_every_value():
    body = payload(alert(), alert("ShopTargetDown", status="resolved"))
    original = copy.deepcopy(body)
    notification = parse_notification(body)
    assert body == original, "parsing must not change the body it was given"
    assert notification.group_labels == original["groupLabels"]
    assert notification.alerts[1].generator_url == original["alerts"][1]["generatorURL"]
    assert notification.alerts[1].ends_at == original["alerts"][1]["endsAt"]
    assert [a.labels["alertname"] for a in notification.alerts] == ["ShopPaymentsErrorRatioHigh", "ShopTargetDown"]
