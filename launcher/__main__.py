"""`make local`: run the whole stack natively in the foreground; `make drill`: run the drill on it.

Ports come from SHOP_PORT, PAYMENTS_PORT, ... (defaults: the `*_HOST_PORT` lines of .env);
Ctrl-C or SIGTERM stops every process the stack started.
"""
import argparse
import os
import subprocess
import sys

from launcher.binaries import MissingProgram
from launcher.stack import REPO, Stack, StackError, interrupt_on_sigterm, main_loop


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


def run_drill(args):
    """Start a fast stack on free ports, run the drill against it, and return its exit code."""
    reports = os.path.join(REPO, "reports")
    os.makedirs(reports, exist_ok=True)
    with Stack(os.path.join(args.workdir, "drill"), fast=True) as stack:
        print("Stack is up:\n" + stack.describe(), flush=True)
        command = [sys.executable, "-m", "loadgen", "drill", *args.drill_args,
                   "--report-json", os.path.join(reports, "drill.json"),
                   "--report-md", os.path.join(reports, "drill.md")]
        return subprocess.call(command, env=stack.service_env(), cwd=REPO)


def main(argv=None):
    """Entry point."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    interrupt_on_sigterm()
    try:
        if args.drill:
            return run_drill(args)
        stack = Stack(args.workdir, fast=args.fast, fixed_ports=True)
        print("Starting the stack (logs in %s/logs) ..." % stack.workdir, flush=True)
        with stack:
            print("The stack is up:\n" + stack.describe())
            print(f"  fault token    {stack.fault_token}  (Authorization: Bearer ... on /admin/faults)")
            if "grafana" in stack.services:
                print(f"  grafana admin  {stack.grafana_admin_password}  (anonymous visitors can view)")
            print("Press Ctrl-C to stop every process.", flush=True)
            return main_loop(stack)
    except (MissingProgram, StackError) as error:
        print(error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; every process the stack started has been stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
