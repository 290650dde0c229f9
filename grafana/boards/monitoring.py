"""Monitoring: who watches the watchers. The alerting pipeline's heartbeat, the health of Prometheus,
Alertmanager, the Pushgateway and every scrape target, and the synthetic probe of the front door.

Question it answers: can we trust the other dashboards and the silence of the inbox? Each alert on the
monitoring itself (prometheus/alerts/monitoring-alerts.yml) has its panel here, drawing its threshold.
"""
from grafana import model
from grafana.thresholds import alert_threshold

HEARTBEAT_AGE = "time() - inbox_watchdog_last_seen_timestamp_seconds"
PROMETHEUS = 'job="prometheus"'
ALERTMANAGER = 'job="alertmanager"'
SEND_ERRORS = alert_threshold("PrometheusErrorSendingAlertsToAnyAlertmanager")
DELIVERY_FAILURES = alert_threshold("AlertmanagerFailedToSendAlerts")
PUSH_STALE = alert_threshold("PushgatewayPushStale")
LOADED = model.value_mappings({0: ("failed", "red"), 1: ("loaded", "green")})


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


def prometheus(board):
    """Prometheus itself: its rules, its sends to Alertmanager, its configuration."""
    board.row("Prometheus")
    board.add(model.timeseries(
        "Rule evaluation failures", "Failed rule evaluations per rule group over 2 minutes; anything above 0 "
        "is a rule whose alert may never fire (PrometheusRuleFailures fires above 0).",
        [(f"sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total{{{PROMETHEUS}}}[2m]))",
          "{{rule_group}}")], "short"), 9, 7)
    board.add(model.timeseries(
        "Alerts Prometheus failed to send", "Share of the alerts Prometheus sent to each Alertmanager that "
        f"failed (1m). PrometheusErrorSendingAlertsToAnyAlertmanager fires above {SEND_ERRORS:.0%} for every "
        "Alertmanager.",
        [(f"rate(prometheus_notifications_errors_total{{{PROMETHEUS}}}[1m]) / "
          f"rate(prometheus_notifications_sent_total{{{PROMETHEUS}}}[1m])", "{{alertmanager}}")], "percentunit",
        steps=model.thresholds((SEND_ERRORS, "red"))), 9, 7)
    board.add(model.stat(
        "Prometheus configuration", "Whether Prometheus's last configuration reload succeeded "
        "(PrometheusBadConfig fires after a minute of failure).",
        [f"prometheus_config_last_reload_successful{{{PROMETHEUS}}}"], "none", graph=False,
        steps=model.thresholds((1, "green"), base="red"), mappings=LOADED), 6, 7)


def alertmanager(board):
    """Alertmanager: does it deliver, does it load its configuration."""
    board.row("Alertmanager")
    board.add(model.timeseries(
        "Notifications Alertmanager failed to deliver", "Share of Alertmanager's notifications per integration "
        f"that failed after its retries (1m). AlertmanagerFailedToSendAlerts fires above {DELIVERY_FAILURES:.0%}; "
        "it reaches the inbox only once delivery works again, the heartbeat tells you sooner.",
        [(f"sum without (reason) (rate(alertmanager_notifications_failed_total{{{ALERTMANAGER}}}[1m])) / "
          f"rate(alertmanager_notifications_total{{{ALERTMANAGER}}}[1m])", "{{integration}}")], "percentunit",
        steps=model.thresholds((DELIVERY_FAILURES, "red"))), 18, 7)
    board.add(model.stat(
        "Alertmanager configuration", "Whether Alertmanager's last configuration reload succeeded "
        "(AlertmanagerFailedReload fires after a minute of failure).",
        [f"alertmanager_config_last_reload_successful{{{ALERTMANAGER}}}"], "none", graph=False,
        steps=model.thresholds((1, "green"), base="red"), mappings=LOADED), 6, 7)


def targets(board):
    """Every scrape target, and the batch job's pushes."""
    board.row("Scrape targets and the Pushgateway")
    board.add(model.stat(
        "Healthy shop targets", "Shop instances that answer Prometheus right now, however they are discovered. "
        "0 is a shop outage: ShopNoHealthyTarget pages after 30 s, also when discovery finds no instance at all "
        "(a stopped container leaves DNS, and no `up == 0` is left for ShopTargetDown).",
        ['count (up{job="shop"} == 1) or vector(0)'], "short", graph=False,
        steps=model.thresholds((1, "green"), base="red")), 5, 7)
    board.add(model.timeseries(
        "Targets up by job", "Scrape targets that answer, per job; a dip is a target down (ShopTargetDown "
        "fires after 30 s: a page for shop and payments, a ticket for the rest).",
        [("sum by (job) (up)", "{{job}}")], "short"), 9, 7)
    board.add(model.timeseries(
        "Time since the last push", "Seconds since each batch job last pushed to the Pushgateway, failed runs "
        f"included. PushgatewayPushStale fires above {PUSH_STALE} s: the job does not run or cannot push.",
        [("time() - max by (job) (push_time_seconds)", "{{job}}")], "s",
        steps=model.thresholds((PUSH_STALE, "red"))), 10, 7)


def probe(board):
    """The synthetic probe: the front door as a customer meets it, whatever the shop's own metrics say."""
    board.row("Synthetic probe (outside in)")
    board.add(model.timeseries(
        "Synthetic probe: front door success", "blackbox-exporter fetches a product page through the front "
        "door at every scrape (1 = the page came back whole). ShopProbeFailing pages when every probe of 30 s "
        "failed, for 15 s more. The 5m success ratio is the outside-in availability SLI: it needs no traffic "
        "and no discovery.",
        [('max by (instance) (probe_success{job="shop_probe"})', "probe {{instance}}"),
         ("job:probe_success:ratio_avg5m", "success ratio, 5m (SLI)")], "percentunit"), 12, 7)
    board.add(model.timeseries(
        "Synthetic probe: duration", "How long each probe took, connection and whole page included, and its "
        "5m average (the latency SLI). A probe gives up after 4 s (a failure above).",
        [('max by (instance) (probe_duration_seconds{job="shop_probe"})', "probe {{instance}}"),
         ("job:probe_duration_seconds:avg5m", "average, 5m (SLI)")], "s"), 12, 7)


def build(site):
    """The monitoring dashboard."""
    board = model.Board(
        "shop-monitoring", "Shop: monitoring",
        "The alerting pipeline's heartbeat, and the health of Prometheus, Alertmanager, the Pushgateway and "
        "every scrape target.")
    heartbeat(board)
    prometheus(board)
    alertmanager(board)
    targets(board)
    probe(board)
    return board
