"""Talk to a running load generator's control API (what `loadgen trigger` and the drill prefer).

Going through the running load generator keeps `loadgen_scenario_active`
true for dashboards and is the only way to start traffic-spike.
"""
import requests

TIMEOUT = (2.0, 10.0)


class LoadgenUnavailable(RuntimeError):
    """No load generator answers at the given URL, or it refused a request."""


class RemoteLoadgen:
    """The scenario API of a load generator at `url`: start, stop, stop_all, status."""

    def __init__(self, url, timeout=TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def reachable(self):
        """True when a load generator answers /healthz."""
        try:
            response = self.session.get(self.url + "/healthz", timeout=(1.0, 2.0))
            return response.ok and response.json().get("service") == "loadgen"
        except (requests.RequestException, ValueError):
            return False

    def _call(self, method, path, **kwargs):
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

    def start(self, name, duration_seconds=None):
        """Start a scenario; return its state."""
        body = {} if duration_seconds is None else {"duration_seconds": duration_seconds}
        return self._call("POST", f"/api/scenarios/{name}", json=body)

    def stop(self, name):
        """Stop a scenario."""
        return self._call("DELETE", f"/api/scenarios/{name}", json={})

    def stop_all(self):
        """Stop every scenario and switch every fault off; return problems as sentences."""
        return self._call("DELETE", "/api/scenarios", json={}).get("problems", [])

    def status(self):
        """Rates, stats and active scenarios."""
        return self._call("GET", "/api/status")
