"""The shop's client for the payments service: the integration point done carefully.

* One `requests.Session` per worker (connection reuse), created lazily after fork.
* Every call has a connect timeout and a *total* deadline: a read timeout alone
  does not stop a server that trickles its answer byte by byte.
* Retries only where safe and bounded: a stock quote (a read) is retried once on
  a timeout or connection error; a charge is retried once only on a connection
  error and carries an Idempotency-Key, so a retry can never charge twice.
* Every call ends in one outcome of a closed set, used as a label value and by
  callers to pick a status code: ok, timeout, connection_error, server_error,
  client_error.

The shop's factory puts its client in `app.extensions["payments_client"]`;
code reads it with `payments_client()`.
"""
import json
import time
from dataclasses import dataclass

import requests
from flask import Flask, current_app
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.common import exemplars, tracing
from app.common.request_log import REQUEST_ID_HEADER, current_request_id
from app.shop.metrics import DEPENDENCY_DURATION, DEPENDENCY_IN_PROGRESS

PEER = "payments"


class PaymentsUnavailable(Exception):
    """A call to payments failed; `outcome` says how."""

    def __init__(self, operation, outcome, detail, status=None):
        super().__init__(f"The payments {operation} call failed ({outcome}): {detail}")
        self.operation = operation
        self.outcome = outcome
        self.status = status  # the HTTP status when payments answered with an error, else None


@dataclass(frozen=True)
class Timeouts:
    """Connect timeout and total deadline for one attempt, in seconds."""
    connect: float = 0.5
    total: float = 2.0


class _DeadlineExceeded(Exception):
    """The answer did not arrive in full before the deadline."""


class PaymentsClient:
    """Calls payments' quote and charge endpoints with timeouts, bounded retries and metrics."""

    def __init__(self, base_url, quote_timeouts=Timeouts(0.5, 1.0), charge_timeouts=Timeouts(0.5, 3.0)):
        self.base_url = base_url.rstrip("/")
        self.quote_timeouts = quote_timeouts
        self.charge_timeouts = charge_timeouts
        self._session = None

    @property
    def session(self):
        """The worker's session (created after gunicorn forks, never shared across processes)."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def budget_seconds(self, operation):
        """The longest a call (with its retry) can take: what a caller must be ready to wait."""
        timeouts = self.quote_timeouts if operation == "quote" else self.charge_timeouts
        return 2 * (timeouts.connect + timeouts.total)

    def quote(self, product_id, quantity):
        """Stock and price for a product: {"available": int, "unit_price_cents": int}."""
        return self._call("quote", "GET", "/quotes", self.quote_timeouts, retry_on=("timeout", "connection_error"),
                          params={"product_id": product_id, "quantity": quantity})

    def charge(self, order_ref, amount_cents, card_number, idempotency_key):
        """Charge a card: {"charge_id", "status": approved|declined, "decline_reason", "amount_cents"}.

        payments binds the key to this request: the same key with another amount
        or card is a client_error with status 409, never an earlier answer.
        """
        return self._call("charge", "POST", "/charges", self.charge_timeouts, retry_on=("connection_error",),
                          json={"order_ref": order_ref, "amount_cents": amount_cents, "card_number": card_number},
                          headers={"Idempotency-Key": idempotency_key})

    def _call(self, operation, method, path, timeouts, retry_on, **kwargs):
        attempts = 2
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(operation, method, path, timeouts, **kwargs)
            except PaymentsUnavailable as failure:
                if attempt == attempts or failure.outcome not in retry_on:
                    raise

    def _attempt(self, operation, method, path, timeouts, **kwargs):
        started = time.perf_counter()
        outcome, detail, body, status = "ok", "", None, None
        with tracing.span(f"{PEER} {operation}", SpanKind.CLIENT,
                          {"peer.service": PEER, "http.request.method": method, "url.path": path}) as span, \
                DEPENDENCY_IN_PROGRESS.labels(PEER, operation).track_inprogress():
            try:
                body = self._send(method, path, timeouts, **kwargs)
            except (requests.Timeout, _DeadlineExceeded) as error:
                outcome, detail = "timeout", str(error)
            except requests.ConnectionError as error:
                outcome, detail = "connection_error", str(error)
            except _HttpError as error:
                outcome, detail, status = error.outcome, error.detail, error.status
            finally:
                exemplars.observe(DEPENDENCY_DURATION, (PEER, operation, outcome), time.perf_counter() - started,
                                  exemplars.sampled_trace_id())
                span.set_attribute("outcome", outcome)
                if outcome != "ok":
                    span.set_status(Status(StatusCode.ERROR, f"{outcome}: {detail}"[:200]))
        if outcome != "ok":
            raise PaymentsUnavailable(operation, outcome, detail, status)
        return body

    def _send(self, method, path, timeouts, **kwargs):
        deadline = time.monotonic() + timeouts.total
        # The same request id in both services' logs ties a slow call to its cause.
        # The W3C traceparent of the client span: payments' server span becomes its child.
        kwargs["headers"] = tracing.inject({**kwargs.get("headers", {}), REQUEST_ID_HEADER: current_request_id()})
        with self.session.request(method, self.base_url + path, stream=True,
                                  timeout=(timeouts.connect, timeouts.total), **kwargs) as response:
            chunks = []
            for chunk in response.iter_content(4096):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _DeadlineExceeded(f"no complete answer within {timeouts.total} s")
            if response.status_code >= 500:
                raise _HttpError("server_error", f"HTTP {response.status_code}", response.status_code)
            if response.status_code >= 400:
                raise _HttpError("client_error", f"HTTP {response.status_code}", response.status_code)
            try:
                return json.loads(b"".join(chunks))
            except ValueError as error:
                raise _HttpError("server_error", f"the answer is not JSON ({error})") from error


def payments_client(app: Flask | None = None) -> PaymentsClient:
    """The shop's PaymentsClient: of `app`, or of the app handling the current request."""
    return (current_app if app is None else app).extensions["payments_client"]


class _HttpError(Exception):
    """An HTTP answer that counts as a failed call."""

    def __init__(self, outcome, detail, status=None):
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail
        self.status = status
