"""One module per dashboard; each has `build(site)` returning a `grafana.model.Board`.

`site` (prometheus.links.Links) is where a browser reaches the stack: every
link a dashboard shows is built from it, never typed.
"""
from grafana.boards import business, dependencies, instrumentation, monitoring, overview, slos

# Dashboard uid -> module. The uids are a contract: runbooks, the scenario catalog and the
# demo console link to them.
BOARDS = {
    "shop-overview": overview,
    "shop-dependencies": dependencies,
    "shop-business": business,
    "shop-slos": slos,
    "shop-instrumentation-101": instrumentation,
    "shop-monitoring": monitoring,
}
