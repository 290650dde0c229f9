"""Where a "Dashboard" link goes: Grafana's page, or, where no Grafana runs, Prometheus's graph page.

The decision is one environment variable, DASHBOARD_LINKS, that whoever starts the services sets:
`grafana` (the default: compose runs Grafana, and the committed docs link to it) or `prometheus`
(the native stack, `make local`, when it has no `grafana` program: launcher/components.py sets it for
the inbox and the load generator, from whether Grafana is among the components it starts). Explicit
rather than guessed from an unset GRAFANA_PUBLIC_URL: a service started by hand with no variables at
all would otherwise not know either, and one variable read in one place says it in every service.

With `prometheus`, a dashboard link opens every query of the dashboard, and a panel link every query
of the panel, in Prometheus's graph page, filled as Grafana fills them (app/common/dashboard_panels.py).
"""
import os
from collections.abc import Mapping
from urllib.parse import quote

from app.common import dashboard_panels

VARIABLE = "DASHBOARD_LINKS"
GRAFANA, PROMETHEUS = "grafana", "prometheus"
TARGETS = (GRAFANA, PROMETHEUS)
# The window a link opens in Prometheus: what the inbox's graphs show too.
RANGE_SECONDS = 30 * 60


def target_from_env(environ: Mapping[str, str] | None = None) -> str:
    """`grafana` or `prometheus` from DASHBOARD_LINKS (unset: grafana); anything else is an error."""
    env = os.environ if environ is None else environ
    value = env.get(VARIABLE, "").strip().lower() or GRAFANA
    if value not in TARGETS:
        raise ValueError(f"{VARIABLE} must be {' or '.join(TARGETS)}, not {value!r}.")
    return value


class DashboardLinks:
    """Links to dashboards and their panels, in Grafana or in Prometheus, on the given base URLs."""

    def __init__(self, grafana: str, prometheus: str, target: str = GRAFANA) -> None:
        if target not in TARGETS:
            raise ValueError(f"A dashboard link goes to {' or '.join(TARGETS)}, not {target!r}.")
        self.grafana = grafana.rstrip("/")
        self.prometheus = prometheus.rstrip("/")
        self.target = target

    @property
    def to_prometheus(self) -> bool:
        """True where no Grafana runs."""
        return self.target == PROMETHEUS

    def dashboard(self, uid: str) -> str:
        """A whole dashboard: Grafana's page, or every query of it in Prometheus's graph page."""
        if self.to_prometheus:
            return dashboard_panels.dashboard_graph_url(self.prometheus, uid, RANGE_SECONDS)
        return f"{self.grafana}/d/{quote(uid)}"

    def panel(self, uid: str, title: str) -> str:
        """One panel: Grafana's view of it, or its queries in Prometheus's graph page (UnknownPanel if none)."""
        if self.to_prometheus:
            return dashboard_panels.panel_graph_url(self.prometheus, uid, title, RANGE_SECONDS)
        panel_id = dashboard_panels.panel(uid, title).get("id")
        return self.dashboard(uid) + (f"?viewPanel=panel-{panel_id}" if panel_id is not None else "")
