"""Dependencies: payments and the database, and whether slowness is our code or theirs.

Question it answers: when the shop is slow or failing, is it the payments
service, the database, or the shop's own code?
"""
from grafana import model
from grafana.common import (
    CUSTOMER,
    RATE,
    instance_variable,
    quantile,
    ratio_or_zero,
    sum_rate,
)
from grafana.thresholds import alert_threshold, bucket_bound

DEP = "shop_dependency_request_duration_seconds"
HTTP = "shop_http_request_duration_seconds"
DB = "shop_db_query_duration_seconds"
PAYMENTS_HTTP = "payments_http_request_duration_seconds"
INSTANCE = 'instance=~"$instance"'
PAYMENTS = f'peer="payments", {INSTANCE}'
ERROR_RATIO = alert_threshold("ShopPaymentsErrorRatioHigh")
SLOW_RATIO = alert_threshold("ShopPaymentsLatencyHigh")
# A call slower than this is "slow" for ShopPaymentsLatencyHigh (the bucket bound its recording rule counts).
SLOW_CALL_SECONDS = bucket_bound("job_peer:shop_dependency_slow_requests:ratio_rate1m")


def payments_client_side(board):
    """Rate, errors by outcome, latency and in-progress of the shop's calls to payments."""
    board.row("Payments, as the shop sees it (client side)")
    board.add(model.timeseries(
        "Payments calls per second by operation", "Calls per second from the shop to payments: `charge` at "
        "checkout, `quote` (stock) on product pages.",
        [(sum_rate(f"{DEP}_count{{{PAYMENTS}}}", "operation"), "{{operation}}")], "reqps"), 8, 8)
    board.add(model.timeseries(
        "Payments call errors", "Share of the shop's calls to payments that failed, by outcome (timeout, "
        "connection_error, server_error, client_error), and all failures as ShopPaymentsErrorRatioHigh sees "
        f"them (1m). The alert fires above {ERROR_RATIO:.0%}. A declined card is an answer (outcome ok).",
        [(f'sum by (outcome) (rate({DEP}_count{{{PAYMENTS}, outcome!="ok"}}[{RATE}])) / on () group_left '
          f"sum (rate({DEP}_count{{{PAYMENTS}}}[{RATE}]))", "{{outcome}}"),
         ('job_peer:shop_dependency_errors:ratio_rate1m{peer="payments"}', "all failures (alert view, 1m)")],
        "percentunit", steps=model.thresholds((ERROR_RATIO, "red"))), 8, 8)
    board.add(model.timeseries(
        "Payments calls in progress", "Calls to payments waiting for an answer at each scrape. It climbs when "
        "payments hangs: each waiting call holds a shop worker.",
        [(f"sum by (operation) (shop_dependency_requests_in_progress{{{PAYMENTS}}})", "{{operation}}")],
        "short"), 8, 8)
    board.add(model.timeseries(
        "Payments call latency", "90th and 99th percentile of the shop's calls to payments, per operation, "
        f"timed by the shop (network included). The dashed line is {SLOW_CALL_SECONDS} s: "
        f"ShopPaymentsLatencyHigh fires when more than {SLOW_RATIO:.0%} of calls are slower.",
        [(quantile(q, DEP, PAYMENTS, "operation"), f"p{round(q * 100)} {{{{operation}}}}") for q in (0.9, 0.99)],
        "s", steps=model.thresholds((SLOW_CALL_SECONDS, "red"))), 12, 8)
    board.add(model.timeseries(
        f"Payments calls slower than {SLOW_CALL_SECONDS} s", f"Share of calls to payments slower than "
        f"{SLOW_CALL_SECONDS} s (a bucket bound, so exact), as ShopPaymentsLatencyHigh sees it (1m). The alert "
        f"fires above {SLOW_RATIO:.0%}.",
        [('job_peer:shop_dependency_slow_requests:ratio_rate1m{peer="payments"}', "{{job}}")], "percentunit",
        steps=model.thresholds((SLOW_RATIO, "red"))), 12, 8)


def ours_or_theirs(board):
    """Shop latency beside dependency latency, and where serving time goes."""
    board.row("Our code or theirs")
    total = sum_rate(f"{HTTP}_sum{{{CUSTOMER}, {INSTANCE}}}")
    parts = {"waiting for payments": sum_rate(f"{DEP}_sum{{{INSTANCE}}}"),
             "database queries": sum_rate(f"{DB}_sum{{{INSTANCE}}}"),
             "own CPU work (recommendations, catalog)": sum_rate(f"shop_compute_duration_seconds_sum{{{INSTANCE}}}")}
    queries = [(f"{part} / {total}", name) for name, part in parts.items()]
    queries.append((f"({total} - {' - '.join(parts.values())}) / {total}", "rest of our code"))
    board.add(model.timeseries(
        "Where the shop's serving time goes", "Share of the time spent serving customer requests that went "
        "to each activity, stacked to 100%. A growing payments band is theirs; a growing band of our own "
        "work is ours.", queries, "percentunit", stack=True, maximum=1, fill=40), 12, 8)
    product_pages = f'{CUSTOMER}, {INSTANCE}, route=~".*/products/<int:product_id>"'
    checkout = f'{CUSTOMER}, {INSTANCE}, route=~".*checkout"'
    board.add(model.timeseries(
        "Shop latency beside payments latency", "90th percentile of product pages and checkouts, each next to "
        "the payments call it makes. If the shop line rises and the payments line under it does not, the "
        "time is spent in our own code.",
        [(quantile(0.9, HTTP, product_pages), "shop: product pages"),
         (quantile(0.9, DEP, f'{PAYMENTS}, operation="quote"'), "payments: quote (for product pages)"),
         (quantile(0.9, HTTP, checkout), "shop: checkout"),
         (quantile(0.9, DEP, f'{PAYMENTS}, operation="charge"'), "payments: charge (for checkout)")], "s"), 12, 8)


def payments_both_sides(board):
    """The shop's measurements of payments beside payments' own."""
    board.row("Payments: the shop's view beside payments' own")
    board.add(model.timeseries(
        "Payments latency: shop's view vs its own", "90th percentile per operation as the shop times it, and "
        "per route as payments times itself. A gap means time outside payments' code: the network, "
        "connection set-up, a slowly trickled answer.",
        [(quantile(0.9, DEP, PAYMENTS, "operation"), "shop's view: {{operation}}"),
         (quantile(0.9, PAYMENTS_HTTP, CUSTOMER, "route"), "payments' own: {{route}}")], "s"), 12, 8)
    board.add(model.timeseries(
        "Payments failures: shop's view vs its own", "Share of calls that failed as the shop sees them, and "
        "share of answers payments counts as 5xx. Refused or hung connections show only on the shop's side.",
        [(ratio_or_zero(sum_rate(f'{DEP}_count{{{PAYMENTS}, outcome!="ok"}}'), sum_rate(f"{DEP}_count{{{PAYMENTS}}}")),
          "shop's view"),
         (ratio_or_zero(sum_rate(f'{PAYMENTS_HTTP}_count{{{CUSTOMER}, code=~"5.."}}'),
                        sum_rate(f"{PAYMENTS_HTTP}_count{{{CUSTOMER}}}")), "payments' own")], "percentunit"), 12, 8)


def database(board):
    """The shop's SQLite queries."""
    board.row("Database (SQLite in the shop's process)")
    board.add(model.timeseries(
        "Database queries per second by operation", "Named queries per second (the operation label is the "
        "query's name in our code, never its SQL). SQLite runs inside the shop, so there are no network "
        "errors or in-flight connections to count; a failing query surfaces as a 5xx of its route.",
        [(sum_rate(f"{DB}_count{{{INSTANCE}}}", "operation"), "{{operation}}")], "reqps"), 8, 8)
    board.add(model.timeseries(
        "Database query latency p99 by operation", "99th percentile time per named query.",
        [(quantile(0.99, DB, INSTANCE, "operation"), "{{operation}}")], "s"), 8, 8)
    board.add(model.timeseries(
        "Database queries per customer request", "Queries per customer request on average. A jump without a "
        "change in traffic mix is a new N+1 query pattern.",
        [(f"{sum_rate(f'{DB}_count{{{INSTANCE}}}')} / {sum_rate(f'{HTTP}_count{{{CUSTOMER}, {INSTANCE}}}')}",
          "queries per request")], "short"), 8, 8)


def build(site):
    """The dependencies dashboard."""
    board = model.Board(
        "shop-dependencies", "Shop: dependencies",
        "The shop's calls to payments and to its database, and whether time goes to our code or theirs.",
        variables=[instance_variable("shop_build_info", "Shop instances making the calls.")])
    payments_client_side(board)
    ours_or_theirs(board)
    payments_both_sides(board)
    database(board)
    return board
