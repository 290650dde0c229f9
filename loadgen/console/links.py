"""Links a person's browser can open from the console: runbook sections in the inbox, Grafana dashboards."""
from collections.abc import Mapping
from typing import Any

from loadgen.catalog import Catalog
from loadgen.config import Urls, browser_url


class Links:
    """Runbook and dashboard addresses for the catalog's scenarios and the inbox's alerts."""

    def __init__(self, urls: Urls, catalog: Catalog) -> None:
        self.inbox = urls.inbox_public or browser_url(urls.inbox, 8002)
        self.grafana = browser_url(urls.grafana, 3000)
        self._dashboard_of_alert: dict[str, str] = {}
        for scenario in reversed(list(catalog.values())):  # the first scenario naming an alert as its runbook wins
            self._dashboard_of_alert[scenario.runbook] = scenario.dashboard_uid

    def runbook(self, anchor: str) -> str:
        """The inbox's runbook section for an anchor (an alert name, any case)."""
        return f"{self.inbox}/runbooks#{anchor.lower()}"

    def dashboard(self, uid: str) -> str:
        """A Grafana dashboard by uid."""
        return f"{self.grafana}/d/{uid}"

    def dashboard_for_alert(self, alert: Mapping[str, Any]) -> str:
        """The dashboard of the scenario whose runbook is this alert's; else SLOs for SLO alerts, else the overview."""
        name = alert.get("alertname", "")
        uid = self._dashboard_of_alert.get(name.lower()) or ("shop-slos" if "slo" in alert.get("labels", {})
                                                             else "shop-overview")
        return self.dashboard(uid)
