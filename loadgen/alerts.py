"""What the alerting pipeline says right now: the inbox (notifications received),
Alertmanager (alerts it would notify about) and Prometheus (firing or pending rules).

The drill works on alert *fingerprints* (one per label set), because one
alert name has several series (an SLO burn alert per window and severity) and
Alertmanager repeats still-firing alerts in every notification of their group.
"""
import re
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from loadgen.config import Urls

TIMEOUT = (2.0, 5.0)
INBOX_PAGE = 1000


class AlertSourceError(RuntimeError):
    """An alerting component did not answer as expected."""


def _get_json(session: requests.Session, url: str, params: Mapping[str, Any] | None = None,
              what: str = "it") -> Any:
    try:
        response = session.get(url, params=params, timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise AlertSourceError(f"Cannot read {what} from {url}: {error}.") from None


class AlertSources:
    """Clients of the inbox, Alertmanager and Prometheus APIs."""

    def __init__(self, urls: Urls) -> None:
        self.urls = urls
        self.session = requests.Session()

    def inbox_alerts(self, since: float, alertname: str | None = None,
                     status: str | None = None) -> list[dict[str, Any]]:
        """Alerts the inbox received at or after `since` (unix seconds), oldest first."""
        params: dict[str, Any] = {"since": f"{since:.3f}", "limit": INBOX_PAGE}
        if alertname:
            params["alertname"] = alertname
        if status:
            params["status"] = status
        body = _get_json(self.session, self.urls.inbox + "/api/alerts", params, "alerts from the inbox")
        return sorted(body.get("alerts", []), key=lambda alert: alert["id"])

    def inbox_heartbeat(self) -> dict[str, Any]:
        """The inbox's dead man's switch: {"status": "ok"|"late"|"waiting", "last_seen", ...}."""
        return _get_json(self.session, self.urls.inbox + "/api/heartbeat", None, "the heartbeat from the inbox")

    def alertmanager_active(self, include_inhibited: bool = False) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds as active and not silenced (and not inhibited, unless asked)."""
        params = {"active": "true", "silenced": "false", "inhibited": "true" if include_inhibited else "false"}
        alerts = _get_json(self.session, self.urls.alertmanager + "/api/v2/alerts", params,
                           "active alerts from Alertmanager")
        return [{"alertname": a["labels"].get("alertname", ""), "fingerprint": a.get("fingerprint", ""),
                 "labels": a["labels"], "state": "firing"} for a in alerts]

    def prometheus_active(self) -> list[dict[str, Any]]:
        """Alerting rules Prometheus has firing or pending."""
        body = _get_json(self.session, self.urls.prometheus + "/api/v1/alerts", None,
                         "active alerts from Prometheus")
        return [{"alertname": a["labels"].get("alertname", ""), "labels": a["labels"], "state": a["state"]}
                for a in body.get("data", {}).get("alerts", [])]

    def recent_notifications(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest alerts in the inbox, newest first (for the console)."""
        body = _get_json(self.session, self.urls.inbox + "/api/alerts", {"limit": limit}, "alerts from the inbox")
        return body.get("alerts", [])


def firing_fingerprints(inbox_alerts: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{fingerprint: alert} of alerts whose latest entry in `inbox_alerts` (oldest first) is firing."""
    latest: dict[str, dict[str, Any]] = {}
    for alert in inbox_alerts:
        latest[alert["fingerprint"]] = alert
    return {fp: alert for fp, alert in latest.items() if alert["status"] == "firing"}


def describe(alert: Mapping[str, Any]) -> str:
    """A short label for an alert series: name plus its distinguishing labels."""
    labels = alert.get("labels", {})
    extra = [f"{key}={labels[key]}" for key in ("severity", "window", "slo") if key in labels]
    name = alert.get("alertname") or labels.get("alertname", "?")
    return name + (f" ({', '.join(extra)})" if extra else "")


def matches(labels: Mapping[str, str], matchers: Iterable[Mapping[str, re.Pattern[str] | str]]) -> bool:
    """True when the labels satisfy every matcher of at least one entry (regexes match whole values)."""
    return any(all(re.fullmatch(pattern, labels.get(label, "")) for label, pattern in entry.items())
               for entry in matchers)
