"""The drill on the native stack: payments latency, payments outage, payments errors and the silent checkout bug
are each detected and resolved with no unexpected alert, a broken alerting pipeline is shown by the inbox's dead
man's switch within 2 minutes and clears, and the JSON report says so; each scenario names an example trace from
Zipkin or says why none applies (payments-latency: a payments call at least the injected latency long, which
Zipkin gives back by its id); the HTML report, opened in a real browser, shows the summary, a drawn plot per
expected signal from Prometheus and each example trace's link, and fetches nothing."""
import json
import re
from pathlib import Path

import pytest
import requests

from loadgen.catalog import load_catalog
from loadgen.config import urls_from_env
from loadgen.drill import DrillSettings, run_drill
from processes.waiting import poll_until

# alerting-pipeline-broken last: the alerts it delays arrive after its clear and resolve a minute later.
SCENARIOS = ["payments-latency", "payments-outage", "payments-errors", "checkout-silent-failure",
             "alerting-pipeline-broken"]


def stack_urls(stack):
    """The drill's view of the stack: the same variables the launcher gives the load generator."""
    env = {f"{name.upper()}_URL": url for name, url in stack.urls().items()}
    return urls_from_env(dict(env, FAULT_TOKEN=stack.fault_token))


def test_stack_runs_baseline_traffic_without_errors(native_stack):
    # The stack is shared: earlier tests may have injected faults, so judge a fresh window of baseline traffic.
    def traffic():
        return requests.get(native_stack.url("loadgen") + "/api/status", timeout=5).json()["traffic"]
    before = traffic()
    assert before["target_rate"] == native_stack.loadgen_rate > 0

    def fifty_more():
        now = traffic()
        return now if now["finished_total"] >= before["finished_total"] + 50 else None
    after = poll_until(fifty_more, "50 more baseline journeys", 60)
    assert after["errors_total"] == before["errors_total"], (before["outcomes"], after["outcomes"])
    metrics = requests.get(native_stack.url("loadgen") + "/metrics", timeout=5).text
    assert f"loadgen_target_rate_per_second {float(native_stack.loadgen_rate)}" in metrics
    up = requests.get(native_stack.url("prometheus") + "/api/v1/query", params={"query": 'up{job="loadgen"}'},
                      timeout=5).json()["data"]["result"]
    assert [sample["value"][1] for sample in up] == ["1"], "Prometheus does not scrape the load generator"


@pytest.mark.timeout(1500)
def test_drill_detects_and_resolves_payments_and_checkout_scenarios(native_stack, tmp_path, browser):
    paths = {"json": str(tmp_path / "drill.json"), "md": str(tmp_path / "drill.md"),
             "html": str(tmp_path / "drill.html")}
    lines, named_traces = [], {}

    def log(line):
        """Keep the drill's log; ask Zipkin for each trace the drill names as it names it (Zipkin keeps only
        minutes of spans, MEM_MAX_SPANS: by the end of the drill the first scenario's traces are gone)."""
        lines.append(line)
        named = re.search(r"example trace: Trace ([0-9a-f]{32}):", line)
        if named:
            named_traces[named.group(1)] = requests.get(
                f"{native_stack.url('zipkin')}/api/v2/trace/{named.group(1)}", timeout=10).json()
    report = run_drill(stack_urls(native_stack), SCENARIOS, paths, settings=DrillSettings(baseline_timeout_seconds=150),
                       log=log)
    with open(paths["json"]) as written:
        saved = json.load(written)
    assert saved == json.loads(json.dumps(report))
    summary = "\n".join(lines)
    assert [s["scenario"] for s in saved["scenarios"]] == SCENARIOS
    for scenario in saved["scenarios"]:
        name = scenario["scenario"]
        assert scenario["problems"] == [], f"{name}: {scenario['problems']}\n{summary}"
        for alert, seconds in scenario["detected"].items():
            assert seconds is not None and 0 < seconds <= scenario["detect_within_seconds"], (name, alert, summary)
        for alert, seconds in scenario["resolved"].items():
            assert seconds is not None and seconds <= scenario["resolve_within_seconds"], (name, alert, summary)
        assert set(scenario["expected_alerts"]) <= {a.split(" ")[0] for a in scenario["fired"]}
        assert scenario["unexpected_alerts"] == [], f"{name}: unexpected {scenario['unexpected_alerts']}\n{summary}"
        assert scenario["passed"] is True
    assert saved["passed"] is True
    assert native_stack.fault_token not in open(paths["json"]).read()
    broken = saved["scenarios"][-1]
    assert broken["detected"]["alerting pipeline broken"] <= 120, summary
    print(f"\nalerting-pipeline-broken: the inbox showed the broken pipeline "
          f"{broken['detected']['alerting pipeline broken']} s after the trigger, "
          f"and a heartbeat came back {broken['resolved']['alerting pipeline broken']} s after the clear.")
    with open(paths["md"]) as markdown:
        written = markdown.read()
    assert "Result: **passed**" in written
    assert_example_traces(native_stack, saved, written, named_traces)
    assert_html_report_shows_every_signal(browser, paths["html"], saved)
    # Nothing is left switched on.
    for service in ("shop", "payments", "inbox"):
        faults = requests.get(native_stack.url(service) + "/admin/faults", timeout=5,
                              headers={"Authorization": f"Bearer {native_stack.fault_token}"}).json()["faults"]
        assert not [f["name"] for f in faults if f["active"]], service


def assert_example_traces(stack, saved, markdown, named_traces):
    """payments-latency names a trace whose payments call lasted at least the injected median latency, and Zipkin
    gave that trace back by its id when the drill named it; the failure scenarios name a failed call; the others
    say why none applies."""
    traces = {scenario["scenario"]: scenario["example_trace"] for scenario in saved["scenarios"]}
    median = load_catalog()["payments-latency"].params["median_seconds"]
    slow = traces["payments-latency"]
    assert slow["trace_id"], slow
    assert (slow["service"], slow["kind"]) in (("shop", "CLIENT"), ("payments", "SERVER")), slow
    assert slow["duration_seconds"] >= median, slow
    assert slow["url"] == f"{stack.url('zipkin')}/zipkin/traces/{slow['trace_id']}"
    spans = named_traces[slow["trace_id"]]
    assert [s for s in spans if s["name"] == slow["span"] and s["duration"] >= median * 1e6], spans
    assert {s["localEndpoint"]["serviceName"] for s in spans} >= {"shop", "payments"}
    print(f"\npayments-latency: example trace {slow['trace_id']}, {slow['service']} span \"{slow['span']}\" "
          f"{slow['duration_seconds']} s (injected median {median} s)")
    for name in ("payments-outage", "payments-errors"):
        assert traces[name]["trace_id"] and traces[name]["error"] is not None, (name, traces[name])
        assert traces[name]["span"].startswith("payments "), (name, traces[name])
    for name in ("checkout-silent-failure", "alerting-pipeline-broken"):
        assert traces[name]["trace_id"] is None and traces[name]["note"].startswith("No span shows it"), traces[name]
    assert f"- Example trace: Trace {slow['trace_id']}: " in markdown


def assert_html_report_shows_every_signal(browser, path, saved):
    """The HTML report in Chromium: one summary row per scenario, one loaded plot per expected signal, no
    placeholder (Prometheus answered every query), and not one request beyond the file itself."""
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(Path(path).as_uri())
    signals = sum(len(scenario["expected_signals"]) for scenario in saved["scenarios"])
    assert page.locator("#summary tbody tr").count() == len(saved["scenarios"])
    placeholders = page.locator(".placeholder").all_inner_texts()
    assert placeholders == [], placeholders
    widths = page.eval_on_selector_all("img", "images => images.map(image => image.complete && image.naturalWidth)")
    assert len(widths) == signals and all(width and width > 0 for width in widths), widths
    assert page.locator("figure.signal img.plot").count() == signals
    # Every alert's own expression came from Prometheus's rules, cut at its threshold, and every query answered.
    captions = page.locator("figure.signal figcaption").all_inner_texts()
    alerts = sum(len(scenario["expected_alerts"]) for scenario in saved["scenarios"])
    assert len([c for c in captions if "against its threshold" in c]) == alerts, captions
    assert not [c for c in captions if "not drawn" in c or "no alerting rule" in c], captions
    linked = [scenario["example_trace"]["url"] for scenario in saved["scenarios"]
              if scenario["example_trace"]["trace_id"]]
    assert page.eval_on_selector_all("p.example-trace a.trace", "links => links.map(link => link.href)") == linked
    assert [url for url in requested if not url.startswith(("file:", "data:"))] == []
