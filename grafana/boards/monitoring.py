"""Monitoring: who watches the watchers. The alerting pipeline's heartbeat and the health of Prometheus,
Alertmanager, the Pushgateway and every scrape target.

Question it answers: can we trust the other dashboards and the silence of the inbox? Each alert on the
monitoring itself (prometheus/alerts/monitoring-alerts.yml) has its panel here, drawing its threshold.
"""
from grafana import model

HEARTBEAT_AGE = "time() - inbox_watchdog_last_seen_timestamp_seconds"


def heartbeat(board):
    """The dead man's switch, as the inbox sees it."""
    board.row("Alerting pipeline heartbeat (the dead man's switch)")
    board.add(model.stat(
        "Alerting pipeline", "What the inbox says of the Watchdog heartbeat: late means no Watchdog "
        "notification arrived for longer than the inbox allows (90 s), so alerts may not be delivered at all.",
        ["inbox_watchdog_late"], "none", graph=False, steps=model.thresholds((1, "red")),
        mappings=model.value_mappings({0: ("beating", "green"), 1: ("broken", "red")})), 6, 6)
    board.add(model.timeseries(
        "Time since the last heartbeat", "Seconds since the inbox last received the Watchdog from "
        "Alertmanager. A saw-tooth below 40 s is healthy (one every ~30 s); a line that keeps climbing is a "
        "broken pipeline: Prometheus, Alertmanager or the webhook.",
        [(HEARTBEAT_AGE, "seconds since the last heartbeat")], "s"), 18, 6)


def build(site):
    """The monitoring dashboard."""
    board = model.Board(
        "shop-monitoring", "Shop: monitoring",
        "The alerting pipeline's heartbeat, and the health of Prometheus, Alertmanager, the Pushgateway and "
        "every scrape target.")
    heartbeat(board)
    return board
