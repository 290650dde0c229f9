"""Alertmanager webhook payloads (version 4) as tests post them to the inbox."""


def alert(name="ShopPaymentsErrorRatioHigh", status="firing", severity="critical", **annotations):
    """One alert as Alertmanager puts it in a webhook payload."""
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "job": "payments"},
        "annotations": {"summary": f"{name} summary", "description": f"{name} is {status}.",
                        "runbook_url": f"http://localhost:8002/runbooks#{name.lower()}", **annotations},
        "startsAt": "2024-05-01T10:00:00.123456789Z",
        "endsAt": "2024-05-01T10:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": f"{abs(hash(name)) % 16**16:016x}",
    }


def payload(*alerts, status=None):
    """A version 4 webhook payload around some alerts."""
    alerts = alerts or (alert(),)
    status = status or ("firing" if any(a["status"] == "firing" for a in alerts) else "resolved")
    return {"version": "4", "groupKey": '{}:{alertname="%s"}' % alerts[0]["labels"]["alertname"],
            "truncatedAlerts": 0, "status": status, "receiver": "inbox",
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "alerts": list(alerts)}


def replaced(body, path, value):
    """`body` with the field at `path` (keys and list indexes) set to `value`; returns the body."""
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body
