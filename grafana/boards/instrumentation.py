"""Instrumentation 101: one row per idea of the talk "Instrumenting Python for Production".

Question it answers: what do counters, gauges, histograms, names and labels,
integration points and the three ways out look like on real data? Each row is
a short text beside the panels that show the idea on the shop's own metrics.
"""
from grafana import model
from grafana.common import CUSTOMER, LATENCY_SLO_SECONDS, RATE, SLOS, quantile, sum_rate
from grafana.thresholds import alert_threshold

HTTP = "shop_http_request_duration_seconds"
GROWTH = alert_threshold("ShopMemoryGrowth")

COUNTER = """
A **counter** only goes up: `shop_orders_total` counts orders committed to the database.

```python
ORDERS = Counter("shop_orders_total", "Orders committed to the database.")
ORDERS.inc()
```

Its raw value depends on when the process started (and drops to 0 on a restart),
so graph its **rate**: `rate(shop_orders_total[1m])` is orders per second,
and `rate()` handles restarts.
"""

GAUGE = """
A **gauge** is a value right now that goes up and down: memory in use, requests in flight.

```python
RESIDENT_MEMORY = Gauge("shop_process_resident_memory_bytes", "...",
                        multiprocess_mode="liveall")
```

Under gunicorn each worker is a process; `multiprocess_mode` says how workers combine:
`liveall` keeps one series per worker (`pid` label), `livesum` adds them up.
Prometheus only sees the value at each scrape.
"""

HISTOGRAM = f"""
A **histogram** counts observations into **cumulative** buckets (`le` = less or equal),
plus their `_sum` and `_count`:

```
shop_http_request_duration_seconds_bucket{{le="0.25"}}  980
shop_http_request_duration_seconds_bucket{{le="+Inf"}}  1000
shop_http_request_duration_seconds_count               1000
```

- average = `rate(_sum) / rate(_count)`
- quantiles = `histogram_quantile(0.99, ...)`: an estimate, interpolated inside a bucket
- share within a bound = `bucket{{le="{LATENCY_SLO_SECONDS}"}} / _count`: exact, which is why the
  latency SLO's threshold is a bucket bound
"""

NAMES = """
The **name** says what is measured, with its unit (`shop_http_request_duration_seconds`);
**labels** let you drill down (`route`, `method`, `code`).

- bad: `http_requests_200_total`, `http_requests_500_total`
- good: `http_requests_total{code="200"}`

Every label value comes from a closed set: the route **template** (`/products/<int:product_id>`,
never the raw path), `<unmatched>` for 404s, `other` for odd methods. A user id as a label
would create a series per user.
"""

WHERE_TO_START = """
Start at the **integration points**: a histogram and an in-progress gauge for requests
to us, and the same for each dependency we call (`peer`, `operation`, `outcome`).
Then **where the app spends its own time** (`shop_compute_duration_seconds`,
`shop_db_query_duration_seconds`) and **key business data** (orders, revenue, checkouts).

See the *Shop: dependencies* and *Shop: business* dashboards.
"""

WAYS_OUT = """
Three ways out of a process:

1. **HTTP**: the services serve `/metrics` and Prometheus scrapes it.
2. **Pushgateway**: the reconcile batch job has no server to scrape, so it pushes
   its results (series with `job="reconcile"`).
3. **Textfile**: the same job also writes a `.prom` file that node_exporter's
   textfile collector exposes (series with `job="node"`).
"""


def idea(board, title, content, description):
    """The text panel that opens a row."""
    board.add(model.text(title, description, content), 8, 9)


def build(site):
    """The instrumentation 101 dashboard."""
    board = model.Board(
        "shop-instrumentation-101", "Shop: instrumentation 101",
        "The ideas of the talk \"Instrumenting Python for Production\", each shown on the shop's own metrics.")

    board.row("Counters")
    idea(board, "What a counter is", COUNTER, "Counters count events; graph their rate.")
    board.add(model.timeseries(
        "A counter as stored: orders", "The raw value of shop_orders_total: it only goes up, and restarts "
        "reset it.", [("sum (shop_orders_total)", "shop_orders_total")], "short"), 8, 9)
    board.add(model.timeseries(
        "The same counter as a rate", "rate(shop_orders_total): orders per second, the way to graph a counter.",
        [(sum_rate("shop_orders_total"), "orders per second")], "ops"), 8, 9)

    board.row("Gauges")
    idea(board, "What a gauge is", GAUGE, "Gauges are a value right now.")
    board.add(model.timeseries(
        "Resident memory per worker", "Resident memory of each gunicorn worker (a gauge with "
        "multiprocess_mode liveall, one series per pid). Lines that climb and never come down are a leak.",
        [("shop_process_resident_memory_bytes", "{{instance}} pid {{pid}}")], "bytes"), 8, 9)
    board.add(model.timeseries(
        "Memory growth per instance", "Slope of each worker's resident memory over 2 minutes, summed per "
        f"instance. ShopMemoryGrowth fires above {GROWTH // 1024} KiB/s.",
        [("sum by (instance) (deriv(shop_process_resident_memory_bytes[2m]))", "{{instance}}")], "Bps",
        steps=model.thresholds((GROWTH, "red")), soft_min=None), 8, 9)

    board.row("Histograms")
    idea(board, "What a histogram is", HISTOGRAM, "Histograms: buckets, sum and count.")
    board.add(model.bargauge(
        "Requests per latency bucket", "Customer requests per latency bucket over the dashboard's time range. "
        "Prometheus stores the buckets cumulatively; the panel shows each bucket on its own.",
        [(f"sum by (le) (increase({HTTP}_bucket{{{CUSTOMER}}}[$__range]))", "{{le}}")], "short", fmt="heatmap"),
        8, 9)
    objective = float(SLOS["latency"]["objective"])
    board.add(model.stat(
        f"Share of requests within {LATENCY_SLO_SECONDS} s", f"Read exactly from the le=\"{LATENCY_SLO_SECONDS}\" "
        f"bucket: the latency SLI. Red below the objective ({objective:.0%}).",
        [f'sum (rate({HTTP}_bucket{{{CUSTOMER}, le="{LATENCY_SLO_SECONDS}"}}[{RATE}])) / '
         f"sum (rate({HTTP}_count{{{CUSTOMER}}}[{RATE}]))"], "percentunit", decimals=2,
        steps=model.thresholds((objective, "green"), base="red")), 8, 9)
    board.add(model.heatmap(
        "Latency heatmap", "Customer requests per second in each latency bucket over time (darker: more).",
        [(f"sum by (le) (rate({HTTP}_bucket{{{CUSTOMER}}}[{RATE}]))", "{{le}}")], "s"), 12, 9)
    board.add(model.timeseries(
        "Quantiles and average from one histogram", "p50, p90 and p99 estimated by histogram_quantile, and "
        "the average from _sum / _count, all from the same histogram.",
        [(quantile(q, HTTP, CUSTOMER), f"p{round(q * 100)}") for q in (0.5, 0.9, 0.99)]
        + [(f"{sum_rate(f'{HTTP}_sum{{{CUSTOMER}}}')} / {sum_rate(f'{HTTP}_count{{{CUSTOMER}}}')}", "average")],
        "s"), 12, 9)

    board.row("Names vs labels")
    idea(board, "Names and labels", NAMES, "One name per thing measured; labels to drill down, bounded.")
    board.add(model.timeseries(
        "One name, drilled down by a label", "shop_http_request_duration_seconds_count split by its code "
        "label: one metric name, one series per status code.",
        [(sum_rate(f"{HTTP}_count", "code"), "code {{code}}")], "reqps"), 8, 9)
    board.add(model.bargauge(
        "Series per shop metric name (top 10)", "How many series the ten largest shop metric names have right "
        "now: bounded label values keep these numbers small and stable.",
        [('sort_desc (topk (10, count by (__name__) ({__name__=~"shop_.+"})))', "{{__name__}}")], "short"), 8, 9)

    board.row("Where to start")
    idea(board, "Integration points first", WHERE_TO_START, "Integration points, own time, business data.")
    board.add(model.timeseries(
        "In progress: requests to us, calls we make", "The in-progress gauges of both integration points: "
        "requests the shop is serving, and its calls to payments waiting for an answer.",
        [("sum (shop_http_requests_in_progress)", "requests being served"),
         ("sum by (peer) (shop_dependency_requests_in_progress)", "calls to {{peer}} in flight")], "short"), 8, 9)
    board.add(model.timeseries(
        "Where the app spends its own time", "Seconds per second spent in the shop's own CPU-heavy work and "
        "in database queries: time the dependency histograms do not explain.",
        [(sum_rate("shop_compute_duration_seconds_sum", "task"), "compute: {{task}}"),
         (sum_rate("shop_db_query_duration_seconds_sum"), "database queries")], "s"), 8, 9)

    board.row("Three ways out")
    idea(board, "HTTP, Pushgateway, textfile", WAYS_OUT, "How metrics leave a process.")
    board.add(model.timeseries(
        "Scrape duration per service", "How long Prometheus takes to scrape each service's /metrics over "
        "HTTP. In gunicorn's multiprocess mode it grows with the files dead workers leave behind.",
        [('scrape_duration_seconds{job=~"shop|payments|inbox|loadgen"}', "{{job}}")], "s"), 8, 9)
    board.add(model.stat(
        "Last successful reconcile, by way out", "When the reconcile batch job last succeeded, as pushed to "
        "the Pushgateway (job reconcile) and as written to the textfile (job node).",
        [("reconcile_last_success_timestamp_seconds * 1000", "{{job}}")], "dateTimeFromNow",
        text_mode="value_and_name", graph=False), 8, 9)
    return board
