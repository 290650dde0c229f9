"""Switch fault knobs through the services' admin API (`/admin/faults`, bearer token).

Only the load generator's server side (and the CLI) holds the fault token;
the console in the browser talks to the load generator, never to the services.
"""
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from loadgen.config import Urls

TIMEOUT = (2.0, 5.0)


class ControlError(RuntimeError):
    """A fault could not be switched; the message says why and what to do."""


def _explain(response: requests.Response, service: str, action: str) -> str:
    """A sentence for a failed admin call."""
    if response.status_code == 401:
        return (f"The {service} service refused to {action}: the fault token is missing or wrong "
                "(set FAULT_TOKEN, or FAULT_TOKEN_FILE, to the token the services were started with).")
    try:
        message = response.json().get("message", "")
    except ValueError:
        message = response.text[:200]
    return f"The {service} service refused to {action} (HTTP {response.status_code}): {message}"


class FaultApi:
    """Client of the admin API of the services that own fault knobs."""

    def __init__(self, urls: Urls, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.urls = urls
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, service: str, path: str, action: str, **kwargs: Any) -> Any:
        url = self.urls.service(service) + path
        headers = {"Authorization": f"Bearer {self.urls.fault_token}"}
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise ControlError(f"Cannot reach the {service} service at {self.urls.service(service)} "
                               f"to {action}: {error}.") from None
        if not response.ok:
            raise ControlError(_explain(response, service, action))
        return response.json()

    def switch_on(self, service: str, knob: str, params: Mapping[str, Any],
                  duration_seconds: float) -> dict[str, Any]:
        """Turn a knob on for duration_seconds (the service switches it off by itself afterwards)."""
        body = dict(params, duration_seconds=duration_seconds)
        return self._call("PUT", service, f"/admin/faults/{knob}", f"switch on {knob}", json=body)

    def switch_off(self, service: str, knob: str) -> dict[str, Any]:
        """Turn one knob off."""
        return self._call("DELETE", service, f"/admin/faults/{knob}", f"switch off {knob}")

    def clear(self, services: Iterable[str] = ("shop", "payments", "inbox")) -> list[str]:
        """Turn every knob of every service off; return a sentence per service that could not be cleared."""
        failed: list[str] = []
        for service in services:
            try:
                self._call("DELETE", service, "/admin/faults", "switch every fault off")
            except ControlError as error:
                failed.append(str(error))
        return failed

    def active(self, service: str) -> dict[str, float | None]:
        """{knob: seconds_left} of the knobs switched on at a service."""
        listing = self._call("GET", service, "/admin/faults", "list its faults")
        return {fault["name"]: fault.get("seconds_left") for fault in listing.get("faults", []) if fault["active"]}
