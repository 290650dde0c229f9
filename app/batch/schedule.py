"""Run the reconcile job every --interval seconds until SIGTERM or SIGINT.

    python -m app.batch.schedule --interval 60 [reconcile options]

The stand-in for cron in the demo stack: the first run starts at once, later
runs start on a fixed rate (a slow run delays the next one, never doubles it
up). A signal lets the current run finish (each HTTP call has a timeout),
then the loop exits with status 0, its spans flushed; a second signal exits at once.
Logs are JSON lines on stdout.
"""
import argparse
import os
import signal
import sys
import threading
import time

from app.batch import reconcile, spans
from app.common.request_log import configure_logging


class StopFlag:
    """Set by the first SIGTERM/SIGINT; the second one exits immediately."""

    def __init__(self, logger):
        self.event = threading.Event()
        self.logger = logger

    def handle(self, signum, _frame):
        """Signal handler."""
        if self.event.is_set():
            self.logger.warning("second signal, exiting now", extra={"fields": {"signal": signum}})
            sys.exit(1)
        self.logger.info("stop requested", extra={"fields": {"signal": signal.Signals(signum).name}})
        self.event.set()

    def install(self):
        """Take over SIGTERM and SIGINT."""
        signal.signal(signal.SIGTERM, self.handle)
        signal.signal(signal.SIGINT, self.handle)


def loop(args, logger, stop):
    """Run reconcile on a fixed rate until `stop` is set; return how many runs started."""
    runs = 0
    next_start = time.monotonic()
    while not stop.is_set():
        runs += 1
        try:
            code, message = reconcile.run_and_export(args, logger)
        except Exception as error:  # one broken run must not end the schedule
            logger.exception("reconcile run crashed", extra={"fields": {"error_type": type(error).__name__}})
            code, message = reconcile.EXIT_RUN_FAILED, str(error)
        logger.info("run finished", extra={"fields": {"run": runs, "exit_code": code, "summary": message}})
        next_start += args.interval
        now = time.monotonic()
        if next_start < now:  # the run overran: skip the missed slots rather than run back to back
            next_start = now + args.interval - (now - next_start) % args.interval
        stop.wait(next_start - now)
    return runs


def main(argv=None):
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m app.batch.schedule", description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float,
                        default=float(os.environ.get("RECONCILE_INTERVAL_SECONDS", "60")),
                        help="seconds between run starts (default: $RECONCILE_INTERVAL_SECONDS or 60)")
    reconcile.add_arguments(parser)
    args = parser.parse_args(argv)
    reconcile.check_arguments(parser, args)
    if args.interval < 1:
        parser.error("--interval must be at least 1 second.")
    logger = configure_logging("reconcile-schedule")
    stop = StopFlag(logger)
    stop.install()
    logger.info("schedule started", extra={"fields": {
        "interval_seconds": args.interval, "pushgateway": args.pushgateway, "textfile": args.textfile,
        "shop_url": args.shop_url, "payments_url": args.payments_url}})
    try:
        runs = loop(args, logger, stop.event)
    finally:
        spans.flush()  # the last run's spans go out before the process exits
    logger.info("schedule stopped", extra={"fields": {"runs": runs}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
