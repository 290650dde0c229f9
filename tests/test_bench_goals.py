"""The bench's detection verdict (bench/detection.py): what counts as meeting issue 7's goals."""
import pytest

from bench.detection import DETECT_GOAL_SECONDS, RESOLVE_GOAL_SECONDS, meets_goals


@pytest.mark.parametrize("detected, resolved, tickets_only, met", [
    (30, 40, False, True),
    (DETECT_GOAL_SECONDS + 1, 40, False, False),      # detected too late
    (None, None, False, False),                       # never detected
    (30, RESOLVE_GOAL_SECONDS + 1, False, False),     # a page that resolved too late
    (30, None, False, False),                         # a page that never resolved
    (30, None, True, True),                           # only tickets fired: they resolve by design, later
    (DETECT_GOAL_SECONDS + 1, None, True, False),     # tickets do not excuse late detection
])
def test_meets_goals(detected, resolved, tickets_only, met):
    assert meets_goals(detected, resolved, tickets_only) is met
