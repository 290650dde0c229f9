"""Nightly reconcile: compare shop orders against payments charges, export the outcome.

    python -m app.batch.reconcile [--pushgateway URL] [--textfile PATH]

Reads GET {shop}/api/orders?since= and GET {payments}/charges?since= for the
last --window-seconds, counts records that do not match (a charge without an
order is money taken with no order: the footprint of a silently failing
checkout, or of a shop worker that died between charge and order: flagged
in reconcile_charges_without_order for a refund) and exports duration,
records processed, mismatches and the
success/failure timestamps to the Pushgateway (job="reconcile") and/or a
node_exporter textfile. Mismatches are a finding, not a failure of the job.

Each run is one trace (app/batch/spans.py): the root span `reconcile run`, with
the export reads, the comparison and the exports as its children; the spans are
flushed before the process exits.

Exit codes: 0 ran and exported; 1 the run failed (an export could not be
read); 2 bad usage; 3 the run succeeded but its metrics could not be exported.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass

from opentelemetry.trace import SpanKind

from app.batch import export, spans
from app.batch.compare import Comparison, compare
from app.batch.sources import ORDERS_PAGE_SIZE, SourceError, fetch_charges, fetch_orders
from app.common.request_log import configure_logging

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_EXPORT_FAILED = 0, 1, 2, 3
PARTNER_SLACK_SECONDS = 60


@dataclass
class RunResult:
    """How one run ended."""
    succeeded: bool
    finished_at: float
    duration: float
    comparison: Comparison | None = None
    error: str | None = None

    def values(self):
        """The metric values this run exports."""
        return export.run_values(self.succeeded, self.finished_at, self.duration, self.comparison)


def add_arguments(parser):
    """The job's options (shared with the schedule loop), defaulting to the environment."""
    textfile_dir = os.environ.get("TEXTFILE_DIR")
    parser.add_argument("--shop-url", default=os.environ.get("SHOP_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--payments-url", default=os.environ.get("PAYMENTS_URL", "http://127.0.0.1:8001"))
    parser.add_argument("--pushgateway", default=os.environ.get("PUSHGATEWAY_URL") or None,
                        help="Pushgateway URL (default: $PUSHGATEWAY_URL)")
    parser.add_argument("--textfile", default=os.path.join(textfile_dir, "reconcile.prom") if textfile_dir else None,
                        help="node_exporter textfile to write (default: $TEXTFILE_DIR/reconcile.prom)")
    parser.add_argument("--window-seconds", type=float,
                        default=float(os.environ.get("RECONCILE_WINDOW_SECONDS", "3600")),
                        help="how far back to reconcile (default: $RECONCILE_WINDOW_SECONDS or 3600)")
    parser.add_argument("--settle-seconds", type=float, default=30.0,
                        help="ignore records younger than this: a checkout may be between charge and order")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each export")
    parser.add_argument("--orders-page-size", type=int, default=ORDERS_PAGE_SIZE,
                        help=f"orders to ask the shop for per page (1 to {ORDERS_PAGE_SIZE})")


def check_arguments(parser, args):
    """Refuse a run whose results would go nowhere, or whose numbers make no sense."""
    if not args.pushgateway and not args.textfile:
        parser.error("Nowhere to export the metrics: give --pushgateway and/or --textfile "
                     "(or set PUSHGATEWAY_URL / TEXTFILE_DIR).")
    if args.window_seconds <= 0 or args.settle_seconds < 0 or args.timeout <= 0:
        parser.error("--window-seconds and --timeout must be positive and --settle-seconds at least 0.")
    if not 1 <= args.orders_page_size <= ORDERS_PAGE_SIZE:
        parser.error(f"--orders-page-size must be from 1 to {ORDERS_PAGE_SIZE}.")


def run(args, clock=time.time):
    """Fetch both sides and compare them; a failure of any kind is returned, not raised."""
    started = time.monotonic()
    end = clock() - args.settle_seconds
    start = end - args.window_seconds
    fetch_since = max(0.0, start - max(PARTNER_SLACK_SECONDS, args.settle_seconds))
    try:
        charges = fetch_charges(args.payments_url, fetch_since, args.timeout)
        orders = fetch_orders(args.shop_url, fetch_since, args.timeout, page_size=args.orders_page_size)
        with spans.span("compare", attributes={"orders": len(orders), "charges": len(charges)}):
            comparison = compare(orders, charges, start, end)
    except SourceError as error:
        return RunResult(False, clock(), time.monotonic() - started, error=str(error))
    except Exception as error:  # a bug must still be recorded as a failed run, or no alert would fire
        message = f"The run crashed with {type(error).__name__}: {error}."
        return RunResult(False, clock(), time.monotonic() - started, error=message)
    return RunResult(True, clock(), time.monotonic() - started, comparison)


def export_result(args, result):
    """Send the run's metrics everywhere asked; return the sentences of any export that failed."""
    problems = []
    values = result.values()
    if args.pushgateway:
        with spans.span("pushgateway push", SpanKind.CLIENT, {"url.full": args.pushgateway}) as span:
            try:
                export.push(args.pushgateway, values, timeout=args.timeout)
            except OSError as error:  # urllib's URLError/HTTPError are OSErrors
                problems.append(f"Pushing to {args.pushgateway} failed: {error}.")
                spans.fail(span, problems[-1])
    if args.textfile:
        with spans.span("textfile write", attributes={"file.path": args.textfile}) as span:
            try:
                export.write_textfile(args.textfile, values)
            except OSError as error:
                problems.append(f"Writing {args.textfile} failed: {error}.")
                spans.fail(span, problems[-1])
    return problems


def run_and_export(args, logger):
    """One complete run, one trace: reconcile, export, log; returns (exit code, sentence for people)."""
    with spans.span("reconcile run", attributes={"window_seconds": args.window_seconds}) as span:
        code, message = _run_and_export(args, logger)
        span.set_attribute("exit_code", code)
        if code != EXIT_OK:
            spans.fail(span, message)
    return code, message


def _run_and_export(args, logger):
    result = run(args)
    problems = export_result(args, result)
    fields = {"succeeded": result.succeeded, "duration_seconds": round(result.duration, 3),
              "export_problems": problems}
    if result.succeeded:
        fields.update(records_processed=result.comparison.records_processed,
                      mismatches=result.comparison.mismatches, examples=result.comparison.examples)
        logger.info("reconcile finished", extra={"fields": fields})
    else:
        logger.error("reconcile failed", extra={"fields": {**fields, "error": result.error}})
    exported = "" if problems else " and recorded in its metrics"
    if not result.succeeded:
        return EXIT_RUN_FAILED, f"Reconcile failed{exported}: {result.error} {' '.join(problems)}".strip()
    if problems:
        return EXIT_EXPORT_FAILED, f"Reconcile ran, but its metrics were not exported: {' '.join(problems)}"
    return EXIT_OK, (f"Reconcile compared {result.comparison.records_processed} records and found "
                     f"{result.comparison.mismatch_count} mismatch(es).")


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m app.batch.reconcile", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    try:
        code, message = run_and_export(args, configure_logging("reconcile"))
    finally:
        spans.flush()  # a short-lived process: its spans go out before it exits
    print(message, file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
