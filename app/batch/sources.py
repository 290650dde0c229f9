"""Read the two sides of the reconciliation over HTTP: shop orders and payments charges.

Each export is one GET with a timeout. Transient failures (connection
errors, timeouts, 5xx) are retried a few times with a short backoff, as a
real batch job would; anything still failing raises SourceError with a
sentence saying which export failed and how. Each attempt is a CLIENT span
of the run (app/batch/spans.py) that passes its W3C traceparent on.
"""
import time

import requests
from opentelemetry.trace import SpanKind

from app.batch import spans
from app.common import tracing

CONNECT_TIMEOUT_SECONDS = 3.05
ATTEMPTS = 3
BACKOFF_SECONDS = 1.0
ORDERS_PAGE_SIZE = 1000  # the most the shop serves in one page


class SourceError(RuntimeError):
    """An export could not be read; the message is a whole sentence."""


def _server_message(response):
    """The sentence from our services' JSON error body, if there is one."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return f" ({str(message)[:200].rstrip('.')})" if message else ""


def _attempt(span_name, attempt, url, params, timeout, session):
    """One GET in its CLIENT span: (response, None), or (None, what went wrong) for a connection error or timeout."""
    with spans.span(span_name, SpanKind.CLIENT,
                    {"http.request.method": "GET", "url.full": url, "attempt": attempt}) as span:
        headers = tracing.inject({"Accept": "application/json"})
        try:
            response = session.get(url, params=params, headers=headers, timeout=(CONNECT_TIMEOUT_SECONDS, timeout))
        except requests.Timeout:
            problem = f"no answer within {timeout:g} s"
        except requests.ConnectionError as error:
            problem = f"could not connect ({type(error).__name__})"
        else:
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                spans.fail(span, f"HTTP {response.status_code}")
            return response, None
        spans.fail(span, problem)
        return None, problem


def _get_json(url, params, timeout, session, sleep, span_name="export read"):
    """GET a JSON document, retrying transient failures; raise SourceError when it cannot."""
    last_problem = None
    for attempt in range(1, ATTEMPTS + 1):
        response, last_problem = _attempt(span_name, attempt, url, params, timeout, session)
        if response is not None:
            if response.status_code < 500:
                break
            last_problem = f"it answered HTTP {response.status_code}{_server_message(response)}"
        if attempt < ATTEMPTS:
            sleep(BACKOFF_SECONDS * attempt)
    else:
        raise SourceError(f"Reading {url} failed after {ATTEMPTS} attempts: {last_problem}.")
    if response.status_code != 200:
        raise SourceError(f"Reading {url} failed: it answered HTTP {response.status_code}"
                          f"{_server_message(response)}.")
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"Reading {url} failed: the answer is not JSON.") from None


def _records(body, key, url, fields):
    """The list under `key`, each entry carrying `fields`; raise SourceError otherwise."""
    records = body.get(key) if isinstance(body, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) and fields <= r.keys() for r in records):
        raise SourceError(f"Reading {url} failed: expected {{\"{key}\": [...]}} with fields "
                          f"{', '.join(sorted(fields))} in every entry.")
    return records


def fetch_orders(shop_url, since, timeout, session=requests, sleep=time.sleep, page_size=ORDERS_PAGE_SIZE):
    """Shop orders created at or after `since`: dicts with id, charge_id, total_cents, created_at.

    The shop answers a page at a time; this follows its `next_after_id` cursor to the last page.
    """
    url = shop_url.rstrip("/") + "/api/orders"
    orders, after_id = [], 0
    while True:
        body = _get_json(url, {"since": f"{since:.3f}", "after_id": after_id, "limit": page_size},
                         timeout, session, sleep, span_name="shop orders")
        orders.extend(_records(body, "orders", url, {"id", "charge_id", "total_cents", "created_at"}))
        cursor = body.get("next_after_id")
        if cursor is None:
            return orders
        # A cursor that does not move forward would loop for ever.
        if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor <= after_id:
            raise SourceError(f"Reading {url} failed: the next page cursor {cursor!r} does not follow {after_id}.")
        after_id = cursor


def fetch_charges(payments_url, since, timeout, session=requests, sleep=time.sleep):
    """Approved charges created at or after `since`: dicts with id, order_ref, amount_cents, created_at."""
    url = payments_url.rstrip("/") + "/charges"
    body = _get_json(url, {"since": f"{since:.3f}"}, timeout, session, sleep, span_name="payments charges")
    return _records(body, "charges", url, {"id", "order_ref", "amount_cents", "created_at"})
