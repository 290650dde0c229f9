"""Talk to a running load generator's control API (what `loadgen trigger` and the drill prefer).

Going through the running load generator keeps `loadgen_scenario_active`
true for dashboards and is the only way to start traffic-spike.
"""
from typing import Any

import requests

TIMEOUT = (2.0, 10.0)


class LoadgenUnavailable(RuntimeError):
    """No load generator answers at the given URL, or it refused a request."""


class RemoteLoadgen:
    """The scenario API of a load generator at `url`: start, stop, stop_all, status."""

    def __init__(self, url: str, timeout: tuple[float, float] = TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def reachable(self) -> bool:
        """True when a load generator answers /healthz."""
        try:
            response = self.session.get(self.url + "/healthz", timeout=(1.0, 2.0))
            return response.ok and response.json().get("service") == "loadgen"
        except (requests.RequestException, ValueError):
            return False

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise LoadgenUnavailable(f"Cannot reach the load generator at {self.url}: {error}.") from None
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:200]}
        if not response.ok:
            raise LoadgenUnavailable(f"The load generator refused {method} {path} (HTTP {response.status_code}): "
                                     f"{body.get('message', '')}")
        return body

    def start(self, name: str, duration_seconds: float | None = None) -> dict[str, Any]:
        """Start a scenario; return its state."""
        body = {} if duration_seconds is None else {"duration_seconds": duration_seconds}
        return self._call("POST", f"/api/scenarios/{name}", json=body)

    def stop(self, name: str) -> dict[str, Any]:
        """Stop a scenario."""
        return self._call("DELETE", f"/api/scenarios/{name}", json={})

    def stop_all(self) -> list[str]:
        """Stop every scenario and switch every fault off; return problems as sentences."""
        return self._call("DELETE", "/api/scenarios", json={}).get("problems", [])

    def status(self) -> dict[str, Any]:
        """Rates, stats and active scenarios."""
        return self._call("GET", "/api/status")
