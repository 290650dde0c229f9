"""Links a person's browser can open from the console: runbook sections in the inbox, dashboards.

A dashboard link goes to Grafana, or, where no Grafana runs (the native stack: DASHBOARD_LINKS=prometheus,
set by the launcher; app/common/dashboard_links.py), to Prometheus's graph page with the dashboard's (or
the alert's story panel's) queries, so no link the console shows is dead.
"""
from collections.abc import Mapping
from typing import Any

from app.common.dashboard_links import DashboardLinks
from loadgen.catalog import Catalog
from loadgen.config import Urls, browser_url


class Links:
    """Runbook and dashboard addresses for the catalog's scenarios and the inbox's alerts."""

    def __init__(self, urls: Urls, catalog: Catalog) -> None:
        self.inbox = urls.inbox_public or browser_url(urls.inbox, 8002)
        self.grafana = browser_url(urls.grafana, 3000)
        self.dashboards = DashboardLinks(self.grafana, browser_url(urls.prometheus, 9090), urls.dashboard_links)
        self._story_of_alert: dict[str, tuple[str, str]] = {}
        for scenario in reversed(list(catalog.values())):  # the first scenario naming an alert as its runbook wins
            self._story_of_alert[scenario.runbook] = (scenario.dashboard_uid, scenario.dashboard_panel)

    def runbook(self, anchor: str) -> str:
        """The inbox's runbook section for an anchor (an alert name, any case)."""
        return f"{self.inbox}/runbooks#{anchor.lower()}"

    def dashboard(self, uid: str) -> str:
        """A dashboard by uid: Grafana's page, or all its queries in Prometheus where no Grafana runs."""
        return self.dashboards.dashboard(uid)

    def panel(self, uid: str, title: str) -> str:
        """One panel of a dashboard: Grafana's view of it, or its queries in Prometheus."""
        return self.dashboards.panel(uid, title)

    def dashboard_for_alert(self, alert: Mapping[str, Any]) -> str:
        """The dashboard of the scenario whose runbook is this alert's; else SLOs for SLO alerts, else the overview.

        Where no Grafana runs, a scenario's alert opens the scenario's story panel rather than the whole
        dashboard: Prometheus's graph page shows one graph per query, and the panel is the one that matters."""
        name = alert.get("alertname", "")
        story = self._story_of_alert.get(name.lower())
        if story and self.dashboards.to_prometheus:
            return self.panel(*story)
        uid = story[0] if story else ("shop-slos" if "slo" in alert.get("labels", {}) else "shop-overview")
        return self.dashboard(uid)
