"""Each latency or error alert links to example traces of its window in Zipkin's UI.

Which alerts: those whose condition is about requests being slow or failing, so that a single request's
trace can show the cause. The choice, by alert name (the rules in prometheus/rules/*.yml):

* ShopPaymentsLatencyHigh (the shop's calls to payments over 0.5 s): payments' spans of at least 0.5 s,
  the time payments itself spent (the shop's client span is their parent, in the same trace).
* ShopPaymentsErrorRatioHigh (the shop's calls to payments failing): the shop's spans tagged error; an
  outage leaves payments with no span at all, so the shop's client span `payments <operation>` is where
  the failure shows.
* ShopLatencyBudgetBurn (latency SLO: customer requests within 0.25 s): the shop's spans of at least 0.25 s.
* ShopAvailabilityBudgetBurn (availability SLO: requests without a 5xx): the shop's spans tagged error.
* ShopCheckoutBudgetBurn (checkout SLO: checkouts failing on our side): the shop's checkout spans tagged error.

No other alert gets a link: a target down, a failing probe, saturation, dropped orders, the batch job,
memory and the monitoring alerts are not about one request, and no trace shows them.

The thresholds are copies of the rules' (the inbox's image carries app/ only): tests/unit/test_trace_links.py
holds them to prometheus/rules/shop-recording.yml and prometheus/slo/slos.yml. The window is the alert's:
its startsAt to its endsAt, or to now while it fires. The link is built on the document base of Zipkin
(public_links.DOCUMENT_BASES); the page moves it where the browser reaches Zipkin (ZIPKIN_PUBLIC_URL).
"""
import time
from typing import Any

from flask import Blueprint

from app.common.trace_search import Search, search_url
from app.inbox.graphs import unix_time
from app.inbox.payload import ZERO_TIME
from app.inbox.public_links import DOCUMENT_BASES

bp = Blueprint("trace_links", __name__)
# Zipkin stores span names in lower case: the shop's checkout route as its server span is named.
CHECKOUT_SPAN = "post /carts/<cart_id>/checkout"
# {alert name: (service, span name, least duration in seconds, annotation query)}
SEARCHES: dict[str, tuple[str, str | None, float | None, str | None]] = {
    "ShopPaymentsLatencyHigh": ("payments", None, 0.5, None),
    "ShopPaymentsErrorRatioHigh": ("shop", None, None, "error"),
    "ShopLatencyBudgetBurn": ("shop", None, 0.25, None),
    "ShopAvailabilityBudgetBurn": ("shop", None, None, "error"),
    "ShopCheckoutBudgetBurn": ("shop", CHECKOUT_SPAN, None, "error"),
}


def alert_search(alert: dict[str, Any], now: float) -> Search | None:
    """The search for the alert's example traces over its window, or None when no trace shows it."""
    chosen = SEARCHES.get(alert.get("alertname") or "")
    if chosen is None:
        return None
    service, span_name, min_seconds, annotation_query = chosen
    start = unix_time(alert["startsAt"])
    ended = alert["status"] == "resolved" and alert["endsAt"] != ZERO_TIME
    end = min(unix_time(alert["endsAt"]), now) if ended else now
    return Search(service, start, max(start, end), span_name, min_seconds, annotation_query)


@bp.app_template_global("trace_search_link")
def trace_search_link(alert: dict[str, Any]) -> str | None:
    """The Zipkin search link of the alert's example traces (on the document base), or None."""
    search = alert_search(alert, time.time())
    return None if search is None else search_url(DOCUMENT_BASES["zipkin"], search)
