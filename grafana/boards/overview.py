"""Service overview: the golden signals of the shop and of payments, and what users see.

Question it answers: is the shop healthy right now, and if not, which signal
(traffic, errors, latency, saturation) moved, on which route, in which version?
"""
from grafana import model
from grafana.common import (
    CUSTOMER,
    LATENCY_SLO_SECONDS,
    RATE,
    error_budget,
    instance_variable,
    quantile,
    ratio_or_zero,
    sum_rate,
)
from grafana.thresholds import alert_threshold

HTTP = "shop_http_request_duration_seconds"
SHOP = f'{CUSTOMER}, instance=~"$instance", route=~"$route"'
ALL_ROUTES = 'instance=~"$instance"'
ERRORS = 'code=~"5.."'
VERSION = "on (instance) group_left (version) (shop_build_info == 1)"
PAYMENTS_HTTP = "payments_http_request_duration_seconds"
BUDGET = error_budget("availability")
SATURATION = alert_threshold("ShopSaturationHigh")


def golden_signals_now(board):
    """Four numbers: traffic, errors, latency, saturation."""
    board.row("Shop: golden signals now")
    board.add(model.stat(
        "Traffic", "Customer requests per second the shop answered (scrapes, health checks and fault "
        "switches excluded).", [sum_rate(f"{HTTP}_count{{{SHOP}}}")], "reqps"), 6, 4)
    board.add(model.stat(
        "Server error ratio", f"Share of customer requests answered with a 5xx. Red above {BUDGET:.1%}, "
        "the error budget of the availability SLO.",
        [ratio_or_zero(sum_rate(f"{HTTP}_count{{{SHOP}, {ERRORS}}}"), sum_rate(f"{HTTP}_count{{{SHOP}}}"))],
        "percentunit", steps=model.thresholds((BUDGET, "red")), decimals=2), 6, 4)
    board.add(model.stat(
        "p99 latency", f"99th percentile of customer request latency. Red above {LATENCY_SLO_SECONDS} s, "
        "the latency SLO's threshold.", [quantile(0.99, HTTP, SHOP)], "s",
        steps=model.thresholds((LATENCY_SLO_SECONDS, "red"))), 6, 4)
    board.add(model.stat(
        "Utilisation", "Requests in flight per worker process (the shop's capacity: each runs one request's "
        f"Python at a time), all routes. Red above {SATURATION:.0%} (ShopSaturationHigh); above 100% requests "
        "wait inside the workers.",
        [f"sum (rate({HTTP}_sum{{{ALL_ROUTES}}}[{RATE}])) / sum (shop_http_request_capacity{{{ALL_ROUTES}}})"],
        "percentunit", steps=model.thresholds((SATURATION, "red"))), 6, 4)


def traffic_and_errors(board):
    """Traffic and errors by route, status code and version."""
    board.row("Shop: traffic and errors")
    board.add(model.timeseries(
        "Requests per second by route", "Customer requests per second by route template (the Flask URL rule, "
        "never the raw path, so the label stays bounded).",
        [(sum_rate(f"{HTTP}_count{{{SHOP}}}", "route"), "{{route}}")], "reqps"), 12, 8)
    board.add(model.timeseries(
        "Server error ratio by route", f"Share of each route's requests answered with a 5xx. The dashed line "
        f"is the availability SLO's error budget ({BUDGET:.1%}).",
        [(ratio_or_zero(sum_rate(f"{HTTP}_count{{{SHOP}, {ERRORS}}}", "route"),
                        sum_rate(f"{HTTP}_count{{{SHOP}}}", "route")), "{{route}}")],
        "percentunit", steps=model.thresholds((BUDGET, "red"))), 12, 8)
    board.add(model.timeseries(
        "Responses by status code", "Customer requests per second by HTTP status code, stacked: 4xx are "
        "answers to bad input or declined cards (402), 5xx are our failures.",
        [(sum_rate(f"{HTTP}_count{{{SHOP}}}", "code"), "{{code}}")], "reqps", stack=True), 12, 8)
    board.add(model.timeseries(
        "Errors by version", "Server error ratio per version the shop serves (joined with shop_build_info). "
        "A new version whose line starts high is a bad deploy: roll back. The blue annotations mark version "
        "changes.",
        [(ratio_or_zero(f"sum by (version) (rate({HTTP}_count{{{SHOP}, {ERRORS}}}[{RATE}]) * {VERSION})",
                        f"sum by (version) (rate({HTTP}_count{{{SHOP}}}[{RATE}]) * {VERSION})"), "{{version}}")],
        "percentunit", steps=model.thresholds((BUDGET, "red"))), 12, 8)


def latency(board):
    """Latency quantiles overall and by route."""
    board.row("Shop: latency")
    board.add(model.timeseries(
        "Request latency (p50, p90, p99)", "Quantiles of customer request latency, estimated from the "
        f"histogram buckets. The dashed line is the latency SLO's threshold ({LATENCY_SLO_SECONDS} s).",
        [(quantile(q, HTTP, SHOP), f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)], "s",
        steps=model.thresholds((LATENCY_SLO_SECONDS, "red"))), 12, 8)
    board.add(model.timeseries(
        "Request latency by route", "99th percentile latency per route. One route rising alone points at "
        "that route's code or its dependency; compare with the Dependencies dashboard.",
        [(quantile(0.99, HTTP, SHOP, "route"), "{{route}}")], "s",
        steps=model.thresholds((LATENCY_SLO_SECONDS, "red"))), 12, 8)


def saturation(board):
    """Utilisation and in-progress requests against capacity."""
    board.row("Shop: saturation")
    board.add(model.timeseries(
        "Worker utilisation", "Average requests in flight (rate of the latency sum, Little's law) over the "
        f"capacity (worker processes), per instance, and the alert's 1m view per job. Above {SATURATION:.0%} "
        "requests start to wait for each other (inside a worker's threads, then in the listen queue) and "
        "latency grows although nothing is broken.",
        [(f"sum by (instance) (rate({HTTP}_sum{{{ALL_ROUTES}}}[{RATE}])) / sum by (instance) "
          f"(shop_http_request_capacity{{{ALL_ROUTES}}})", "{{instance}}"),
         ("job:shop_http_request_utilisation:ratio_rate1m", "{{job}} (ShopSaturationHigh, 1m)")],
        "percentunit", steps=model.thresholds((SATURATION, "red"))), 12, 8)
    board.add(model.timeseries(
        "Requests in progress vs capacity", "Requests being served at the moment of each scrape, against "
        "the worker processes. Above the capacity line requests wait for each other inside the workers.",
        [("sum by (instance) (shop_http_requests_in_progress{instance=~\"$instance\"})", "in progress {{instance}}"),
         ("sum by (instance) (shop_http_request_capacity{instance=~\"$instance\"})", "capacity {{instance}}")],
        "short"), 12, 8)


def payments(board):
    """The payments service's own golden signals (server side)."""
    board.row("Payments: golden signals (its own metrics)")
    board.add(model.timeseries(
        "Payments requests per second by route", "Requests per second the payments service answered, by "
        "route (charges from checkouts, quotes from product pages).",
        [(sum_rate(f"{PAYMENTS_HTTP}_count{{{CUSTOMER}}}", "route"), "{{route}}")], "reqps"), 6, 8)
    board.add(model.timeseries(
        "Payments server error ratio", "Share of payments' answers that were a 5xx, as payments itself counts "
        "them. Refused or hung connections never reach this count: see the Dependencies dashboard.",
        [(ratio_or_zero(sum_rate(f"{PAYMENTS_HTTP}_count{{{CUSTOMER}, {ERRORS}}}", "route"),
                        sum_rate(f"{PAYMENTS_HTTP}_count{{{CUSTOMER}}}", "route")), "{{route}}")],
        "percentunit"), 6, 8)
    board.add(model.timeseries(
        "Payments latency (p50, p90, p99)", "Quantiles of the time payments spends answering, measured "
        "inside payments.",
        [(quantile(q, PAYMENTS_HTTP, CUSTOMER), f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)], "s"), 6, 8)
    board.add(model.timeseries(
        "Payments requests in progress vs capacity", "Requests payments is serving at each scrape, against "
        "the most it can serve at once.",
        [("sum (payments_http_requests_in_progress)", "in progress"),
         ("sum (payments_http_request_capacity)", "capacity")], "short"), 6, 8)


def users_and_targets(board):
    """What the load generator's users see, scrape targets and the host."""
    board.row("Users (load generator), targets and host")
    board.add(model.timeseries(
        "User journeys by outcome", "Journeys per second the load generator finished, by outcome. Anything "
        "but ok, rejected_ok and declined means a user was failed.",
        [(sum_rate("loadgen_requests_total", "outcome"), "{{outcome}}"),
         (sum_rate("loadgen_intended_requests_total"), "asked for by the schedule")], "ops"), 7, 8)
    board.add(model.timeseries(
        "User journey latency p99", "99th percentile journey latency per journey, measured from the "
        "scheduled start (open loop), so time a user waited for a busy server is included.",
        [(quantile(0.99, "loadgen_request_latency_seconds", by="journey"), "{{journey}}")], "s"), 7, 8)
    scrape_targets = model.stat(
        "Scrape targets", "Whether Prometheus could scrape each job at its last attempt (the lowest of the "
        "job's instances). A down shop or payments pages (ShopTargetDown).",
        [("min by (job) (up)", "{{job}}")], "none", text_mode="value_and_name", graph=False,
        steps=model.thresholds((1, "green"), base="red"),
        mappings=model.value_mappings({0: ("down", "red"), 1: ("up", "green")}))
    cpu = model.stat(
        "Host CPU busy", "Share of the host's CPU time not idle (node_exporter), all cores.",
        [f'1 - avg (rate(node_cpu_seconds_total{{mode="idle"}}[{RATE}]))'], "percentunit",
        steps=model.thresholds((0.8, "orange"), (0.95, "red")))
    memory = model.stat(
        "Host memory available", "Share of the host's memory available to new work without swapping "
        "(node_exporter).", ["node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"], "percentunit",
        steps=model.thresholds((0.1, "orange"), (0.2, "green"), base="red"))
    board.add(scrape_targets, 6, 8)
    board.column(4, (cpu, 4), (memory, 4))


def build(site):
    """The overview dashboard."""
    board = model.Board(
        "shop-overview", "Shop: service overview",
        "Golden signals (traffic, errors, latency, saturation) of the shop and of payments, and what users see.",
        variables=[
            instance_variable("shop_build_info", "Shop instances (one per gunicorn server; compose can scale them)."),
            model.query_variable("route", "Route", "Customer route templates of the shop.",
                                 f"label_values({HTTP}_count{{{CUSTOMER}}}, route)")])
    golden_signals_now(board)
    traffic_and_errors(board)
    latency(board)
    saturation(board)
    payments(board)
    users_and_targets(board)
    return board
