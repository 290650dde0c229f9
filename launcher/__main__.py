"""`make local`: run the whole stack natively in the foreground; `make drill`: run the drill on it.

Ports come from SHOP_PORT, PAYMENTS_PORT, ... (defaults: the `*_HOST_PORT` lines of .env);
Ctrl-C, SIGTERM or SIGHUP stops every process the stack started (see launcher/signals.py).
"""
import argparse
import os
import signal
import subprocess
import sys
import time

from launcher import hold_downs, signals
from launcher.binaries import MissingProgram
from launcher.preflight import Busy
from launcher.stack import REPO, Stack, StackError
from processes.deathsig import die_with_parent

WATCH_INTERVAL_SECONDS = 0.2  # how soon a stop signal or a dead component is noticed
DRILL_STOP_SECONDS = 10
GROUP_SIGNAL_SECONDS = 2  # how long a drill that got the group's signal itself has to end on its own


# Said in the banner when no Grafana runs, so a "Dashboard" link opening Prometheus is not a surprise.
GRAFANA_SKIPPED = ("  grafana            skipped: no `grafana` program on PATH (none can be installed from the package "
                   "registries this project uses; `docker compose up` runs it). Dashboard and panel links open their "
                   "queries in Prometheus's graph page instead; each alert's graphs are in the inbox.")


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "var", "local"),
                        help="where data, logs and rendered configs go (default: var/local)")
    parser.add_argument("--fast", action="store_true",
                        help="1 s scrape/evaluation and short Alertmanager timers (what the tests use)")
    parser.add_argument("--drill", action="store_true",
                        help="start the stack on free ports, run `loadgen drill` over the whole catalog, stop")
    parser.add_argument("drill_args", nargs="*", help="scenario names for --drill (default: all)")
    return parser.parse_args(argv)


def say(text, stream=None):
    """Print a line; a terminal that has gone away (SIGHUP) must not get in the way of the shutdown."""
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except OSError:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def serve(stack, _args):
    """Start the stack, print where it listens, and watch it until a stop signal or a component dies."""
    stack.claim()
    say("Starting the stack (logs in %s/logs) ..." % stack.workdir)
    stack.start()
    say("The stack is up:\n" + stack.describe())
    say(f"  fault token        {stack.fault_token}  (Authorization: Bearer ... on /admin/faults)")
    if "grafana" in stack.services:
        say(f"  grafana admin      {stack.grafana_admin_password}  (anonymous visitors can view)")
    else:
        say(GRAFANA_SKIPPED)
    say("For `loadgen trigger NAME` (and clear, drill) in another shell, first:\n"
        + "\n".join(f"  {line}" for line in stack.cli_exports()))
    say("Press Ctrl-C to stop every process.")
    holds = hold_downs.HoldDowns(stack, say)
    while signals.requested() is None:
        holds.check()  # a component a scenario holds down is stopped here, and is not among the dead below
        dead = [name for name, process in stack.processes.items() if not process.running()]
        if dead:
            say(f"{', '.join(dead)} stopped unexpectedly; see {stack.workdir}/logs/. Stopping the stack.", sys.stderr)
            return 1
        time.sleep(WATCH_INTERVAL_SECONDS)
    return 0


def run_drill(stack, args):
    """Start a fast stack on free ports, run the drill against it, and return its exit code."""
    reports = os.path.join(REPO, "reports")
    os.makedirs(reports, exist_ok=True)
    stack.start()
    say("Stack is up:\n" + stack.describe())
    command = [sys.executable, "-m", "loadgen", "drill", *args.drill_args,
               "--report-json", os.path.join(reports, "drill.json"),
               "--report-md", os.path.join(reports, "drill.md"), "--report-html", os.path.join(reports, "drill.html")]
    drill = subprocess.Popen(command, env=stack.service_env(), cwd=REPO, preexec_fn=die_with_parent())
    try:
        return hold_downs.wait_watching(drill, stack, say, WATCH_INTERVAL_SECONDS, between=signals.check)
    finally:
        stop_drill(drill)


def stop_drill(drill):
    """End the drill: a signal to the whole group reached it too; otherwise SIGINT it, then SIGKILL."""
    for signum, seconds in ((None, GROUP_SIGNAL_SECONDS), (signal.SIGINT, DRILL_STOP_SECONDS),
                            (signal.SIGKILL, DRILL_STOP_SECONDS)):
        if drill.poll() is not None:
            return
        if signum is not None:
            drill.send_signal(signum)  # SIGINT: the drill stops its scenarios and writes its report
        try:
            drill.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            continue


def stop(stack):
    """Stop every process of the stack; nothing interrupts this (the signal handler never raises)."""
    if not stack.processes:
        stack.stop()
        return
    cause = signals.requested()
    say("Stopping the stack" + (f" ({signal.Signals(cause).name})" if cause else "") + " ...", sys.stderr)
    stack.stop()
    say("Stopped: every process the stack started has exited.", sys.stderr)


def main(argv=None):
    """Entry point."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    signals.install()
    if args.drill:
        stack, body = Stack(os.path.join(args.workdir, "drill"), fast=True, cancel=signals.check,
                            hold_downs=True), run_drill
    else:
        stack, body = Stack(args.workdir, fast=args.fast, fixed_ports=True, cancel=signals.check,
                            hold_downs=True), serve
    try:
        return body(stack, args)
    except (MissingProgram, StackError, Busy) as error:
        say(str(error), sys.stderr)
        return 1
    except signals.Interrupted as interruption:
        say(f"Interrupted by {interruption}.", sys.stderr)
        return 130  # stopped during start-up or the drill: not a normal end
    finally:
        stop(stack)


if __name__ == "__main__":
    sys.exit(main())
