"""Business: orders, revenue, checkouts, conversion, carts, declines and the nightly reconcile.

Question it answers: is the shop making money, and does what we tell customers
match what we store? Only business data shows a checkout that "succeeds" but
drops the order.
"""
from grafana import model
from grafana.common import RATE, sel, sum_rate
from grafana.thresholds import alert_threshold

CHECKOUTS = "shop_checkouts_total"
RECONCILE = 'job="reconcile"'  # the Pushgateway copy (the textfile copy has job="node")
DROPPED = alert_threshold("ShopOrdersDropped")
STALE = alert_threshold("ShopReconcileJobStale")
ORDERS_PER_MINUTE = f"{sum_rate('shop_orders_total')} * 60"
REVENUE_PER_HOUR = f"{sum_rate('shop_order_value_dollars_sum')} * 3600"
PLACED_PER_SECOND = sum_rate(sel(CHECKOUTS, 'outcome="placed"'))
DECLINED_PER_SECOND = sum_rate(sel(CHECKOUTS, 'outcome="declined"'))
SUCCESS_RATIO = f"{PLACED_PER_SECOND} / {sum_rate(CHECKOUTS)}"


def now(board):
    """Four numbers for the business right now."""
    board.row("Business now")
    board.add(model.stat("Orders per minute", "Orders committed to the database per minute.",
                         [ORDERS_PER_MINUTE], "opm"), 6, 4)
    board.add(model.stat("Revenue per hour", "Value of committed orders, per hour at the current rate.",
                         [REVENUE_PER_HOUR], "currencyUSD"), 6, 4)
    board.add(model.stat("Checkout success ratio", "Share of checkouts that ended with the order placed "
                         "(the rest: declined cards, bad input, failed payments, errors).",
                         [SUCCESS_RATIO], "percentunit", decimals=1), 6, 4)
    board.add(model.stat("Conversion", "Orders per product view over the dashboard's time range.",
                         ["sum (increase(shop_orders_total[$__range])) / "
                          "sum (increase(shop_product_views_total[$__range]))"], "percentunit", decimals=1), 6, 4)


def orders(board):
    """Orders against checkouts, and revenue."""
    board.row("Orders and revenue")
    board.add(model.timeseries(
        "Orders placed vs checkouts", "Orders stored per minute beside checkouts that told the customer "
        "\"placed\". The lines must lie on top of each other; orders falling while placed checkouts go on "
        "means customers are charged for orders we do not have.",
        [(ORDERS_PER_MINUTE, "orders stored"),
         (f"{PLACED_PER_SECOND} * 60", "checkouts told \"placed\"")], "opm"), 12, 8)
    board.add(model.timeseries(
        "Orders stored per placed checkout", "Orders committed per checkout reported as placed, as "
        f"ShopOrdersDropped sees it (1m). It should be 1; the alert fires below {DROPPED:.0%}.",
        [("job:shop_orders_per_placed_checkout:ratio_rate1m", "{{job}}")], "percentunit",
        steps=model.thresholds((DROPPED, "green"), base="red")), 12, 8)
    board.add(model.timeseries(
        "Revenue", "Revenue per hour at the current rate, and the average order value.",
        [(REVENUE_PER_HOUR, "revenue per hour"),
         (f"{sum_rate('shop_order_value_dollars_sum')} / {sum_rate('shop_order_value_dollars_count')}",
          "average order value")], "currencyUSD"), 12, 8)
    board.add(model.bargauge(
        "Order value distribution", "Orders per order-value bucket over the dashboard's time range (the "
        "histogram shop_order_value_dollars, buckets shown one by one, not cumulative).",
        [("sum by (le) (increase(shop_order_value_dollars_bucket[$__range]))", "{{le}}")], "short",
        fmt="heatmap"), 12, 8)


def checkouts(board):
    """Checkout outcomes, success ratio and conversion over time."""
    board.row("Checkouts and conversion")
    board.add(model.timeseries(
        "Checkout failures by reason", "Checkouts per minute that did not place an order, by what the customer "
        "was told: declined (card), rejected (bad input, empty cart, out of stock), payment_failed "
        "(payments did not answer), error (our bug).",
        [(f'sum by (outcome) (rate({CHECKOUTS}{{outcome!="placed"}}[{RATE}])) * 60', "{{outcome}}")], "opm",
        stack=True), 8, 8)
    board.add(model.timeseries(
        "Checkout success ratio over time", "Share of checkouts that placed an order.",
        [(SUCCESS_RATIO, "placed / all checkouts")], "percentunit"), 8, 8)
    board.add(model.timeseries(
        "Conversion over time", "Orders per product view at the current rate.",
        [(f"{sum_rate('shop_orders_total')} / {sum_rate('shop_product_views_total')}", "orders per product view")],
        "percentunit"), 8, 8)


def carts_and_declines(board):
    """Carts, and card declines."""
    board.row("Carts and payment declines")
    board.add(model.timeseries(
        "Carts per minute", "Carts created, items added, and carts abandoned (left without checkout "
        "longer than the abandonment timeout), per minute.",
        [(f"{sum_rate('shop_carts_created_total')} * 60", "carts created"),
         (f"{sum_rate('shop_cart_items_added_total')} * 60", "items added"),
         (f"{sum_rate('shop_carts_abandoned_total')} * 60", "carts abandoned")], "opm"), 8, 8)
    board.add(model.timeseries(
        "Payment declines by reason", "Cards the payment provider declined per minute, by reason. A decline "
        "is a business outcome, not an error of ours.",
        [(f"{sum_rate('shop_payment_declines_total', 'reason')} * 60", "{{reason}}")], "opm", stack=True), 8, 8)
    board.add(model.timeseries(
        "Payment decline ratio", "Share of paid checkouts declined, as the shop counts them and as payments "
        "counts its charges. The two should agree.",
        [(DECLINED_PER_SECOND + " / " + sum_rate(sel(CHECKOUTS, 'outcome=~"placed|declined"')),
          "shop: declined checkouts"),
         (sum_rate(sel("payments_charges_total", 'result="declined"')) + " / " + sum_rate("payments_charges_total"),
          "payments: declined charges")], "percentunit"), 8, 8)


def reconcile(board):
    """The nightly reconcile batch job, from what it pushed to the Pushgateway."""
    board.row("Nightly reconcile (batch job, via the Pushgateway)")
    board.add(model.stat(
        "Reconcile job last run", "Whether the last run of the reconcile batch job succeeded "
        "(ShopReconcileJobFailed fires on a failure).", [f"reconcile_last_run_success{{{RECONCILE}}}"], "none",
        graph=False, steps=model.thresholds((1, "green"), base="red"),
        mappings=model.value_mappings({0: ("failed", "red"), 1: ("succeeded", "green")})), 6, 5)
    board.add(model.stat(
        "Time since last successful reconcile", "Age of the last successful run. ShopReconcileJobStale "
        f"fires above {STALE} s.", [f"time() - reconcile_last_success_timestamp_seconds{{{RECONCILE}}}"], "s",
        steps=model.thresholds((STALE, "red"))), 6, 5)
    board.add(model.stat(
        "Reconcile mismatches", "Records the last successful run could not match: charges without an order, "
        "orders without a charge, amounts that differ. Anything above 0 is money to look at.",
        [f"reconcile_mismatches{{{RECONCILE}}}"], "short", steps=model.thresholds((1, "red"))), 5, 5)
    board.add(model.stat(
        "Charges without an order", "Approved charges the last successful run found with no order: customers "
        "charged for nothing, to refund (ShopChargesWithoutOrder fires above 0).",
        [f"reconcile_charges_without_order{{{RECONCILE}}}"], "short", steps=model.thresholds((1, "red"))), 4, 5)
    board.add(model.stat(
        "Reconcile run duration", "Wall-clock time of the last run, successful or not.",
        [f"reconcile_duration_seconds{{{RECONCILE}}}"], "s"), 3, 5)


def build(site):
    """The business dashboard."""
    board = model.Board(
        "shop-business", "Shop: business",
        "Orders, revenue, checkouts, conversion, carts, payment declines and the nightly reconcile.")
    now(board)
    orders(board)
    checkouts(board)
    carts_and_declines(board)
    reconcile(board)
    return board
