"""Read the Prometheus rule files and promtool test files, for the tests that hold them together."""
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.helpers.paths import REPO

PROMETHEUS_DIR = REPO / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
RUNBOOKS = REPO / "docs" / "runbooks.md"


@dataclass(frozen=True)
class AlertCase:
    """One alert_rule_test entry: which alert, which rule files, and the label sets expected to fire."""
    test_file: Path
    rule_files: tuple
    alertname: str
    expected: tuple  # one dict of labels per expected alert; empty = must not fire

    @property
    def firing(self):
        """True for a case that expects the alert to fire."""
        return bool(self.expected)


def load_yaml(path):
    """Parse a YAML file."""
    return yaml.safe_load(Path(path).read_text())


def rules(kind):
    """Every rule of a kind ("alert" or "record") as (rule file, rule dict)."""
    return [(path, rule) for path in RULE_FILES for group in load_yaml(path)["groups"]
            for rule in group["rules"] if kind in rule]


def alert_names():
    """Names of every alert in the rule files."""
    return {rule["alert"] for _path, rule in rules("alert")}


def alert_cases():
    """Every alert_rule_test entry of every promtool test file."""
    cases = []
    for path in TEST_FILES:
        doc = load_yaml(path)
        rule_files = tuple((path.parent / name).resolve() for name in doc["rule_files"])
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                expected = tuple({**a.get("exp_labels", {}), "alertname": case["alertname"]}
                                 for a in case.get("exp_alerts") or [])
                cases.append(AlertCase(path, rule_files, case["alertname"], expected))
    return cases


def expression_tests():
    """Every promql_expr_test expression of every promtool test file."""
    return [case["expr"] for path in TEST_FILES for test in load_yaml(path)["tests"]
            for case in test.get("promql_expr_test", [])]


def runbook_headings():
    """The level-2 headings of docs/runbooks.md (one per alert; level-1 headings group them)."""
    return re.findall(r"^## (\S.*?)\s*$", RUNBOOKS.read_text(), flags=re.MULTILINE)


def uncommented_lines(path, pattern):
    """Lines matching `pattern` whose previous line is not a comment (1-based numbers)."""
    lines = Path(path).read_text().splitlines()
    return [number + 1 for number, line in enumerate(lines)
            if re.match(pattern, line) and (number == 0 or not lines[number - 1].lstrip().startswith("#"))]
