"""`make screenshots`: the README's pictures, taken from a real run, never drawn by hand.

It starts a fast native stack on free ports (as `make drill` does), lets
baseline traffic fill a few minutes of history (WARMUP_SECONDS, so the graphs
have a past to compare with), runs the drill over one scenario and takes the
first plot of its HTML report; then starts the same scenario from the console,
as a person would, and once its alert has reached the inbox photographs the
console (graphs with the drill's and this run's windows shaded, the story) and
that notification with its graphs, and stops the scenario.
The PNGs go to docs/images/ (PICTURES names them; the README shows each with
one line on what to notice, and tests/config holds the two together).

There is no Grafana screenshot: no Grafana can run on the machines this is
built on (see the README), and a picture of something else labelled Grafana
would be a lie.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import requests

from launcher import hold_downs, signals
from launcher.__main__ import WATCH_INTERVAL_SECONDS, say, stop, stop_drill
from launcher.binaries import MissingProgram
from launcher.preflight import Busy
from launcher.stack import REPO, Stack, StackError
from loadgen.remote import RemoteLoadgen
from processes import chromium
from processes.deathsig import die_with_parent
from processes.waiting import WaitTimeout, poll_until

SCENARIO = "payments-latency"
ALERT = "ShopPaymentsLatencyHigh"
IMAGES_DIR = os.path.join(REPO, "docs", "images")
# File name: what the README says to notice in it (the README's lines are held to these by a test).
PICTURES = {
    "console-during-scenario.png": "the demo console during `payments-latency`",
    "inbox-notification.png": "the alert's notification in the inbox, with its graph",
    "drill-plot.png": "a plot of the drill report (`reports/drill.html`)",
}
VIEWPORT = {"width": 1280, "height": 900}
ALERT_TIMEOUT_SECONDS = 150  # the scenario's detect_within_seconds is 90
WARMUP_SECONDS = 240  # baseline history before the drill: the drill plot's lead-in and the graphs' past
CONSOLE_TIMEOUT_SECONDS = 30  # the console redraws its story and graphs every 5 s


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="make screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default=os.path.join(REPO, "var", "local", "screenshots"),
                        help="where the stack's data, logs and the drill's reports go")
    parser.add_argument("--out", default=IMAGES_DIR, help="where the PNGs go (default: docs/images)")
    return parser.parse_args(argv)


def firing_in_inbox(inbox_url, since):
    """The inbox's firing alerts named ALERT received since `since` (unix seconds)."""
    answer = requests.get(inbox_url + "/api/alerts", timeout=5,
                          params={"since": f"{since:.3f}", "alertname": ALERT, "status": "firing"})
    answer.raise_for_status()
    return answer.json()["alerts"]


def shoot_live(browser, stack, out, since):
    """The console and the inbox notification, once ALERT of the scenario started at `since` fires."""
    def fired():
        signals.check()
        return firing_in_inbox(stack.url("inbox"), since)
    poll_until(fired, f"{ALERT} to reach the inbox", ALERT_TIMEOUT_SECONDS, interval=2)
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(stack.url("loadgen") + "/")
    # The console refreshes its story and graphs by itself: wait until the story says the alert fired
    # and the scenario's window is shaded on every graph.
    page.wait_for_function(
        """([alert]) => [...document.querySelectorAll('#story-lines li')].some(li =>
               li.textContent.includes(alert) && li.textContent.includes('fired'))
           && document.querySelectorAll('#graphs svg').length >= 3
           && [...document.querySelectorAll('#graphs svg')].every(svg => svg.querySelector('rect.window'))""",
        arg=[ALERT], timeout=CONSOLE_TIMEOUT_SECONDS * 1000)
    # The top of the page (traffic, graphs, story); the scenario list below it is text.
    story = page.locator("#story").bounding_box()
    page.screenshot(path=os.path.join(out, "console-during-scenario.png"), full_page=True,
                    clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": story["y"] + story["height"] + 16})
    page.goto(stack.url("inbox") + f"/?alertname={ALERT}")
    notification = page.locator("section.notification.firing").first
    notification.wait_for(timeout=10_000)
    notification.screenshot(path=os.path.join(out, "inbox-notification.png"))
    page.close()


def shoot_report(browser, report_html, out):
    """The first plot of the drill's HTML report, with its caption."""
    page = browser.new_page(viewport=VIEWPORT)
    page.goto("file://" + report_html)
    figure = page.locator("figure").first
    figure.wait_for(timeout=10_000)
    loaded = page.evaluate("[...document.images].every(image => image.complete && image.naturalWidth > 0)")
    if not loaded:
        raise SystemExit(f"An image of {report_html} did not load; no picture taken.")
    figure.screenshot(path=os.path.join(out, "drill-plot.png"))
    page.close()


def warm_up(stack):
    """Let baseline traffic run for WARMUP_SECONDS, watching the stack as `make local` does."""
    say(f"Letting baseline traffic fill {WARMUP_SECONDS} s of history ...")
    deadline = time.monotonic() + WARMUP_SECONDS
    while time.monotonic() < deadline:
        signals.check()  # a stop signal ends it (Interrupted is not swallowed by anything here)
        dead = [name for name, process in stack.processes.items() if not process.running()]
        if dead:
            raise StackError(f"{', '.join(dead)} stopped during the warm-up; see {stack.workdir}/logs/.")
        time.sleep(WATCH_INTERVAL_SECONDS)


def drill_report(stack, reports):
    """Run the drill over SCENARIO; its HTML report's path, or None when the drill failed."""
    report_html = os.path.join(reports, "drill.html")
    command = [sys.executable, "-m", "loadgen", "drill", SCENARIO,
               "--report-json", os.path.join(reports, "drill.json"),
               "--report-md", os.path.join(reports, "drill.md"), "--report-html", report_html]
    drill = subprocess.Popen(command, env=stack.service_env(), cwd=REPO, preexec_fn=die_with_parent())
    try:
        code = hold_downs.wait_watching(drill, stack, say, WATCH_INTERVAL_SECONDS, between=signals.check)
    finally:
        stop_drill(drill)
    if code != 0:
        say(f"The drill failed (exit {code}); no picture is taken. Reports in {reports}.", sys.stderr)
        return None
    return report_html


def take(stack, args):
    """Start the stack, warm it up, drill one scenario, then run it from the console; 0 when every picture was taken."""
    stack.start()
    say("Stack is up:\n" + stack.describe())
    os.makedirs(args.out, exist_ok=True)
    warm_up(stack)
    report_html = drill_report(stack, tempfile.mkdtemp(prefix="reports-", dir=stack.workdir))
    if report_html is None:
        return 1
    console = RemoteLoadgen(stack.url("loadgen"))
    with chromium.launched() as browser:
        shoot_report(browser, report_html, args.out)
        say(f"Drill plot taken; starting {SCENARIO} from the console for the live pictures ...")
        since = time.time()
        console.start(SCENARIO)
        try:
            shoot_live(browser, stack, args.out, since)
        finally:
            console.stop(SCENARIO)
    say("Wrote " + ", ".join(os.path.join(os.path.relpath(args.out, REPO), name) for name in PICTURES) + ".")
    return 0


def main(argv=None):
    """Entry point."""
    args = parse_args(argv if argv is not None else sys.argv[1:])
    signals.install()
    stack = Stack(args.workdir, fast=True, cancel=signals.check, hold_downs=True)
    try:
        return take(stack, args)
    except (MissingProgram, StackError, Busy, WaitTimeout) as error:
        say(str(error), sys.stderr)
        return 1
    except signals.Interrupted as interruption:
        say(f"Interrupted by {interruption}.", sys.stderr)
        return 130
    finally:
        stop(stack)


if __name__ == "__main__":
    sys.exit(main())
