"""`python -m loadgen run|scenarios|trigger|clear|drill|report-html`: the load generator's command line.

Service addresses come from the environment (SHOP_URL, PAYMENTS_URL,
INBOX_URL, ALERTMANAGER_URL, PROMETHEUS_URL, GRAFANA_URL, LOADGEN_URL) and the
fault token from FAULT_TOKEN; see docs/architecture.md.
"""
import argparse
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence

from loadgen import drill as drill_module
from loadgen import report as report_module
from loadgen.catalog import Catalog, CatalogError, Scenario, load_catalog
from loadgen.config import DEFAULT_PORT, Urls, rate_from_env, urls_from_env
from loadgen.console.links import Links as ConsoleLinks
from loadgen.fault_api import ControlError
from loadgen.journeys import parse_mix
from loadgen.openloop import ARRIVAL_MODELS
from loadgen.remote import LoadgenUnavailable
from loadgen.runner import run
from loadgen.scenario_manager import ScenarioError
from loadgen.state import build_state
from loadgen.traffic import DEFAULT_WORKERS

DEFAULT_REPORTS = ("reports/drill-report.json", "reports/drill-report.md", "reports/drill-report.html")


def _positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number.") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} must not be negative.")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    top = argparse.ArgumentParser(prog="loadgen", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="traffic + demo console + /metrics (what the stack runs)")
    run.add_argument("--rate", type=_positive(float), help="journeys per second (default: $LOADGEN_RATE or 5; 0 = off)")
    run.add_argument("--duration", type=_positive(float),
                     help="stop after this many seconds (default: run until stopped)")
    run.add_argument("--mix", type=parse_mix, help="journey weights, e.g. browse=35,view_product=35,checkout=15")
    run.add_argument("--arrivals", choices=ARRIVAL_MODELS, default="constant",
                     help="arrival spacing (default constant)")
    run.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                     help=f"journeys in flight at most (default {DEFAULT_WORKERS}); later ones wait their turn")
    run.add_argument("--port", type=int, default=int(os.environ.get("LOADGEN_PORT", DEFAULT_PORT)),
                     help="console and /metrics port (default: $LOADGEN_PORT or 8089)")
    run.add_argument("--host", default=os.environ.get("BIND_HOST", "127.0.0.1"),
                     help="address to listen on (default: $BIND_HOST or 127.0.0.1)")
    run.add_argument("--quiet", action="store_true", help="no live progress line")
    listing = commands.add_parser("scenarios", help="list the fault scenario catalog")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    trigger = commands.add_parser("trigger", help="start a scenario (through the running load generator if any)")
    trigger.add_argument("name")
    trigger.add_argument("--duration", type=_positive(float), help="seconds (default: the catalog's)")
    clear = commands.add_parser("clear", help="stop one scenario, or all of them and every fault knob")
    clear.add_argument("name", nargs="?")
    drill = commands.add_parser("drill", help="trigger each scenario, check its alerts fire and resolve")
    drill.add_argument("names", nargs="*", metavar="NAME", help="scenarios to drill (default: the whole catalog)")
    drill.add_argument("--report-json", default=DEFAULT_REPORTS[0], help=f"default {DEFAULT_REPORTS[0]}")
    drill.add_argument("--report-md", default=DEFAULT_REPORTS[1], help=f"default {DEFAULT_REPORTS[1]}")
    drill.add_argument("--report-html", default=DEFAULT_REPORTS[2],
                       help=f"with a plot per expected signal from Prometheus (default {DEFAULT_REPORTS[2]})")
    drill.add_argument("--baseline-timeout", type=_positive(float), default=120.0,
                       help="seconds to wait for no alert to be active before each scenario (default 120)")
    drill.add_argument("--strict", action="store_true", help="also fail on alerts nobody expected")
    again = commands.add_parser("report-html", help="write a drill's JSON report as HTML again, plots included")
    again.add_argument("report", help="the drill's JSON report")
    again.add_argument("--output", help="default: the report's path with .html")
    again.add_argument("--prometheus", help="default: the Prometheus the drill ran against, as the report says")
    return top


def command_scenarios(args: argparse.Namespace, catalog: Catalog, _urls: Urls) -> int:
    """Print the catalog."""
    if args.json:
        print(json.dumps([s.summary() for s in catalog.values()], indent=2))
        return 0
    rows = [("scenario", "changes", "lasts", "expected alerts", "dashboard / panel")]
    rows += [(s.name, f"{s.service} {s.knob}", f"{s.default_duration_seconds} s", ", ".join(s.expected_signals),
              f"{s.dashboard_uid} / {s.dashboard_panel}") for s in catalog.values()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _controller(urls: Urls, catalog: Catalog) -> drill_module.ScenarioController:
    """The running load generator if it answers, else direct fault control."""
    return drill_module.controller_for(urls, catalog, log=lambda text: print(text, file=sys.stderr))


def command_trigger(args: argparse.Namespace, catalog: Catalog, urls: Urls) -> int:
    """Start one scenario."""
    state = _controller(urls, catalog).start(args.name, args.duration)
    print(trigger_message(catalog[args.name], state["seconds_left"], urls, catalog))
    return 0


def trigger_message(scenario: Scenario, seconds_left: float, urls: Urls, catalog: Catalog) -> str:
    """What `loadgen trigger` says: what to expect, and the inbox and dashboard where a browser finds it
    (inside compose `urls.inbox` is http://inbox:8002, which a browser cannot open)."""
    links = ConsoleLinks(urls, catalog)
    expect = ", ".join(scenario.expected_alerts)
    if scenario.dead_mans_switch:  # no alert can arrive: the inbox's own banner is the signal
        expect = (expect + " and " if expect else "") + "the \"Alerting pipeline broken\" banner"
    if links.dashboards.to_prometheus:  # no Grafana runs: the panel's queries in Prometheus, not a dead link
        story = (f"panel \"{scenario.dashboard_panel}\" of {scenario.dashboard_uid}, its queries in Prometheus: "
                 f"{links.panel(scenario.dashboard_uid, scenario.dashboard_panel)}")
    else:
        story = f"dashboard {links.dashboard(scenario.dashboard_uid)}, panel \"{scenario.dashboard_panel}\""
    return (f"Started {scenario.name} for {seconds_left:.0f} s; expect {expect} "
            f"in the inbox ({links.inbox}). Story: {story}.")


def command_clear(args: argparse.Namespace, catalog: Catalog, urls: Urls) -> int:
    """Stop one scenario, or everything."""
    controller = _controller(urls, catalog)
    if args.name:
        controller.stop(args.name)
        print(f"Stopped {args.name}.")
        return 0
    problems = controller.stop_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    print("Stopped every scenario and switched every fault off." if not problems else "Some faults may still be on.")
    return 1 if problems else 0


def command_drill(args: argparse.Namespace, catalog: Catalog, urls: Urls) -> int:
    """Run the drill and write the reports; non-zero exit when a scenario failed."""
    # A stopped drill (SIGTERM from a launcher or CI) still switches every fault off on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = drill_module.DrillSettings(baseline_timeout_seconds=args.baseline_timeout, strict=args.strict)
    paths = {kind: path for kind, path in (("json", args.report_json), ("md", args.report_md),
                                           ("html", args.report_html)) if path}
    report = drill_module.run_drill(urls, args.names, paths, settings=settings, catalog=catalog,
                                    log=lambda text: print(text, flush=True))
    return 0 if report["passed"] else 1


def command_report_html(args: argparse.Namespace, _catalog: Catalog, _urls: Urls) -> int:
    """Render a drill's JSON report as HTML again (the plots need the drill's Prometheus to still hold the data)."""
    from loadgen import report_html
    try:
        with open(args.report, encoding="utf-8") as saved:
            report = json.load(saved)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read the drill report {args.report}: {error}.") from None
    output = args.output or os.path.splitext(args.report)[0] + ".html"
    try:
        text = report_html.render(report, prometheus_url=args.prometheus)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{args.report} is not a drill report (no {error}).") from None
    report_module.write_text(text, output)
    print(f"Wrote the html report to {output}.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m loadgen` (and of the `loadgen` console script)."""
    args = parser().parse_args(argv)
    try:
        catalog = load_catalog()
        urls = urls_from_env()
        if args.command == "run":
            rate = args.rate if args.rate is not None else rate_from_env()
            state = build_state(urls, rate, mix=args.mix, duration=args.duration, arrivals=args.arrivals,
                                workers=args.workers, catalog=catalog)
            show = not args.quiet and sys.stderr.isatty()
            return run(state, args.host, args.port, duration=args.duration, show_progress=show)
        handler = {"scenarios": command_scenarios, "trigger": command_trigger, "clear": command_clear,
                   "drill": command_drill, "report-html": command_report_html}[args.command]
        return handler(args, catalog, urls)
    except (CatalogError, ScenarioError, LoadgenUnavailable, ControlError, ValueError) as error:
        print(f"loadgen: {error}", file=sys.stderr)
        return 2

