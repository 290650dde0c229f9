"""The bench's detection verdict (bench/detection.py): what counts as meeting issue 7's goals."""
import pytest

from bench.detection import DETECT_GOAL_SECONDS, RESOLVE_GOAL_SECONDS, meets_goals
from bench.scrape import not_growing


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


def checkpoint(median_ms, files=26, series=488):
    return {"median_ms": median_ms, "files": files, "series": series}


@pytest.mark.parametrize("rows, flat", [
    ([checkpoint(5.5), checkpoint(5.0), checkpoint(5.6)], True),
    ([checkpoint(5.5), checkpoint(7.5)], False),                    # slower by more than 20% and 1 ms
    ([checkpoint(5.5), checkpoint(5.6, files=27)], False),          # a restart left a file behind
    ([checkpoint(5.5), checkpoint(5.6, series=520)], False),        # restarts made new series
])
def test_scrape_not_growing_with_restarts(rows, flat):
    assert not_growing(rows) is flat
