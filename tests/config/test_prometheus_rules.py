"""Prometheus configuration and rules: promtool checks and unit tests, the SLO
generator, and the conventions every alert and recording rule follows."""
import re
import subprocess
import sys

import pytest

from launcher import binaries
from prometheus import generate, links
from prometheus.slo import spec as slo_spec
from tests.helpers.rule_files import (
    PROMETHEUS_DIR,
    REPO,
    RULE_FILES,
    TEST_FILES,
    alert_cases,
    alert_names,
    expression_tests,
    load_yaml,
    rules,
    runbook_headings,
    uncommented_lines,
)

RECORD_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
JOBS = {"shop", "payments", "inbox", "loadgen", "pushgateway", "alertmanager", "prometheus", "node",
        "shop_probe", "blackbox", "zipkin"}


def run(command, **kwargs):
    """Run a command; fail the test with its output unless it exits 0."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, **kwargs)
    assert result.returncode == 0, (f"{' '.join(map(str, command))} exited {result.returncode}:\n"
                                    f"{result.stdout}\n{result.stderr}")
    return result


def test_compose_config_passes_promtool_check_config():
    """The compose config and every rule file it loads are valid (native rendering: test_launcher_configs.py)."""
    output = run([binaries.find("promtool"), "check", "config", PROMETHEUS_DIR / "prometheus.yml"])
    assert "SUCCESS" in output.stdout


def test_rule_files_pass_promtool_check_rules():
    """Every rule file, including the profile the stack does not load, is valid."""
    run([binaries.find("promtool"), "check", "rules", *RULE_FILES])


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda path: path.name)
def test_promtool_unit_tests_pass(test_file):
    """The promtool unit tests of the rules pass."""
    run([binaries.find("promtool"), "test", "rules", test_file])


def test_generated_rule_files_are_up_to_date():
    """The committed slo-<profile>.yml, shop-alerts.yml and promtool expectations are what the sources render."""
    run([sys.executable, "-m", "prometheus.generate", "--check"])


@pytest.mark.parametrize("name, old, new", [
    (generate.rule_file_name("demo"), "14.4", "14.5"),
    ("shop-alerts.yml", "severity: critical", "severity: info"),
    ("shop-alerts.yml", "runbooks#shopmemorygrowth", "runbooks#memory"),
])
def test_generator_check_fails_on_a_stale_file(tmp_path, name, old, new):
    """--check exits 1, names the file and the command to run, when a generated file was edited by hand."""
    command = [sys.executable, "-m", "prometheus.generate", "--dir", str(tmp_path)]
    run(command)
    run(command + ["--check"])
    edited = tmp_path / "rules" / name
    assert old in edited.read_text()
    edited.write_text(edited.read_text().replace(old, new))
    result = subprocess.run(command + ["--check"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 1, result.stderr
    assert f"{name} is out of date; run `make generate`" in result.stderr


def test_promtool_expectations_follow_the_runbook_links():
    """The generator keeps each expected runbook_url of the promtool tests on the link of its case's alert."""
    path = PROMETHEUS_DIR / "tests" / "shop-alerts.test.yml"
    text = path.read_text()
    shifted = links.Links({**links.published_ports(), "inbox": 18002})
    rewritten = generate.expected_runbooks(text, shifted)
    assert rewritten.count("http://localhost:18002/runbooks#") == text.count("runbook_url:") > 0
    assert "runbooks#shopmemorygrowth" in rewritten and "localhost:8002" not in rewritten
    assert generate.expected_runbooks(rewritten, links.published()) == text
    assert generate.stale({path: rewritten}) == [f"{path} is out of date; run `make generate` and commit the result."]


def test_promtool_tests_pass_on_rules_rendered_for_other_ports(tmp_path):
    """Rendered for an inbox on another port, the rules and the promtool tests' expected links still agree."""
    shifted = links.Links({**links.published_ports(), "inbox": 18002})
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in RULE_FILES:
        (tmp_path / "rules" / path.name).write_text(path.read_text())
    for name, text in generate.rule_files(shifted).items():
        (tmp_path / "rules" / name).write_text(text)
    for path in TEST_FILES:
        (tmp_path / "tests" / path.name).write_text(generate.expected_runbooks(path.read_text(), shifted))
    assert "http://localhost:18002/runbooks#shoptargetdown" in (tmp_path / "rules" / "shop-alerts.yml").read_text()
    run([binaries.find("promtool"), "test", "rules", *sorted((tmp_path / "tests").glob("*.test.yml"))])


def test_profiles_compress_the_workbook_windows():
    """The demo profile divides every 30-day window by 15; its shortest window is 4 scrapes of the stack."""
    spec = slo_spec.load()
    real, demo = spec.profiles["30d"], spec.profiles["demo"]
    assert [(a.long, a.short, a.burn_rate) for a in real.alerts] == [
        ("1h", "5m", 14.4), ("6h", "30m", 6.0), ("1d", "2h", 3.0), ("3d", "6h", 1.0)]
    assert [(a.long, a.short) for a in demo.alerts] == [("4m", "20s"), ("24m", "2m"), ("96m", "8m"), ("288m", "24m")]
    assert (real.period, demo.period) == ("30d", "2d")
    scrape = slo_spec.parse_duration(load_yaml(PROMETHEUS_DIR / "prometheus.yml")["global"]["scrape_interval"])
    assert min(slo_spec.parse_duration(w) for w in demo.windows) >= 4 * scrape


def test_spec_refuses_windows_too_short_to_rate(tmp_path):
    """A profile that would make a window shorter than min_window is an error, not a silent bad rule."""
    text = (PROMETHEUS_DIR / "slo" / "slos.yml").read_text().replace("compression: 15", "compression: 60")
    (tmp_path / "slos.yml").write_text(text)
    with pytest.raises(slo_spec.SpecError, match="shorter than min_window"):
        slo_spec.load(tmp_path / "slos.yml")


def test_prometheus_config_scrapes_every_job_and_loads_the_default_profile():
    """Job names are the contract; the stack runs the spec's default profile, and only that one."""
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS
    assert config["global"]["scrape_interval"] == config["global"]["evaluation_interval"] == "5s"
    pushgateway = next(job for job in config["scrape_configs"] if job["job_name"] == "pushgateway")
    assert pushgateway.get("honor_labels") is True, "Pushed series must keep their job label (reconcile)."
    default = slo_spec.load().default_profile
    slo_files = [path for path in config["rule_files"] if "slo-" in path]
    assert slo_files == [f"rules/{generate.rule_file_name(default)}"]
    loaded = {(PROMETHEUS_DIR / path).name for path in config["rule_files"]}
    assert loaded | {generate.rule_file_name(p) for p in slo_spec.load().profiles} == {p.name for p in RULE_FILES}


def test_retention_holds_the_loaded_profiles_budget_period(tmp_path):
    """Compose's and the native launcher's TSDB retention cover the period whose ratio the loaded profile's
    budget reads; loading slo-30d.yml with compose's retention would be refused."""
    from types import SimpleNamespace

    from launcher.components import build
    from tests.helpers.compose_checks import flag_value, load
    compose = flag_value(load(REPO / "docker-compose.yml")["services"]["prometheus"], "--storage.tsdb.retention.time")
    stack = SimpleNamespace(port=lambda _name: 9090, workdir=str(tmp_path), prometheus_config="p.yml",
                            links=links.Links(links.published_ports()))
    native = next(arg.split("=", 1)[1] for arg in build("prometheus", stack).command
                  if arg.startswith("--storage.tsdb.retention.time="))
    profile = slo_spec.loaded_profile()
    assert slo_spec.retention_problem(compose, profile) is None
    assert slo_spec.retention_problem(native, profile) is None
    problem = slo_spec.retention_problem(compose, slo_spec.load().profiles["30d"])
    assert problem == "A retention of 7d cannot hold the 30d profile's budget period of 30d; keep at least 30d."


@pytest.mark.parametrize("path,rule", rules("alert"), ids=lambda v: getattr(v, "name", None) or v.get("alert"))
def test_alert_has_severity_summary_description_and_runbook(path, rule):
    """Static summary, templated description, runbook_url to the alert's own section, a known severity."""
    annotations, labels = rule.get("annotations", {}), rule.get("labels", {})
    assert labels.get("severity") in {"critical", "warning", "info"}, f"{rule['alert']} in {path.name}"
    assert annotations.get("summary") and "{{" not in annotations["summary"], "The summary must be static."
    assert "{{" in annotations.get("description", ""), "The description must be templated."
    assert annotations.get("runbook_url") == links.published().runbook(rule["alert"])
    assert annotations["runbook_url"].endswith("/runbooks#" + rule["alert"].lower()), "anchor = alert name, lower case"
    if path.name.startswith("slo-"):
        assert {"slo", "window", "profile"} <= set(labels), "SLO alerts carry slo, window and profile."


def test_every_alert_has_a_runbook_section_and_every_section_an_alert():
    """docs/runbooks.md has one section per alert, headed by the alert name (the anchor)."""
    headings = runbook_headings()
    assert sorted(headings) == sorted(set(headings)), "A runbook heading appears twice."
    assert set(headings) == alert_names()


def test_alert_names_are_the_architecture_contract():
    """The rules define exactly the alerts docs/architecture.md lists."""
    text = (REPO / "docs" / "architecture.md").read_text()
    section = text.split("## Alerts", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`([A-Z][a-z]+[A-Za-z]*)`", section)) == alert_names()


def test_every_alert_rule_has_a_firing_case():
    """Each alert rule (name + static labels, e.g. every SLO window) fires in a test that loads its file."""
    cases = [case for case in alert_cases() if case.firing]
    for path, rule in rules("alert"):
        static = {"alertname": rule["alert"], **rule.get("labels", {})}
        assert any(path.resolve() in case.rule_files and any(static.items() <= labels.items()
                                                              for labels in case.expected)
                   for case in cases), f"No promtool case expects {static} from {path.name} to fire."


def test_every_alert_has_a_not_firing_case():
    """Each alert has at least one case in which it must stay silent; but the always-firing heartbeat
    (`expr: vector(1)`, the Watchdog), whose silence the inbox notices (tests/unit/test_inbox_heartbeat.py)."""
    silent = {case.alertname for case in alert_cases() if not case.firing}
    always = {rule["alert"] for _path, rule in rules("alert") if str(rule["expr"]).strip() == "vector(1)"}
    assert always == {"Watchdog"}
    assert alert_names() - always - silent == set()


def test_every_recording_rule_is_named_commented_and_tested():
    """level:metric:operations names, a comment line above each, and a promql_expr_test that reads it."""
    expressions = " ".join(expression_tests())
    for path, rule in rules("record"):
        assert RECORD_NAME.match(rule["record"]), f"{rule['record']} is not named level:metric:operations."
        assert re.search(rf"(?<![\w:]){re.escape(rule['record'])}(?![\w:])", expressions), \
            f"No promql_expr_test reads {rule['record']} ({path.name})."
    for path in RULE_FILES:
        assert uncommented_lines(path, r"\s*- record:") == [], f"Recording rules without a comment in {path.name}."


def test_every_promtool_case_is_titled_by_a_comment():
    """Each alert and expression case says what it checks in the comment above it."""
    for path in TEST_FILES:
        assert uncommented_lines(path, r"\s*- (eval_time|expr):") == [], f"Untitled cases in {path.name}."
