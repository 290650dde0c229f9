"""The drill's last line says how many scenarios it drilled: "every scenario passed" after drilling one of
twelve misled (issue 15, small truths)."""
import pytest

from loadgen.report import table


def report(passed, *results):
    """A drill report with these per-scenario results (True: passed)."""
    scenarios = [{"scenario": f"s{index}", "expected_alerts": ["A"], "detected": {"A": 10.0}, "resolved": {"A": 5.0},
                  "unexpected_alerts": [], "passed": ok} for index, ok in enumerate(results)]
    return {"scenarios": scenarios, "passed": passed, "duration_seconds": 61.2}


@pytest.mark.parametrize("drilled, last_line", [
    (report(True, True), "Drill: the one scenario drilled passed (61 s)."),
    (report(True, True, True), "Drill: all 2 scenarios drilled passed (61 s)."),
    (report(False, True, False), "Drill: SOME SCENARIOS FAILED (61 s)."),
])
def test_the_verdict_counts_the_scenarios_drilled(drilled, last_line):
    assert table(drilled).splitlines()[-1] == last_line
