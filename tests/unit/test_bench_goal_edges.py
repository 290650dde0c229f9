"""The bench's verdicts at edges test_bench_goals.py leaves open: the median's own limit, and "last" checkpoint."""
from bench import goals
from bench.goals import SCRAPE_GOAL_MS


def checkpoint(median_ms, files=26, series=488):
    return {"median_ms": median_ms, "files": files, "series": series}


def test_a_scrape_checkpoint_with_its_median_exactly_at_the_goal_meets_it():
    assert goals.scrape_within_goal({"median_ms": SCRAPE_GOAL_MS, "p99_ms": SCRAPE_GOAL_MS}) is True


def test_not_growing_compares_the_last_checkpoint_not_the_second():
    rows = [checkpoint(5.0), checkpoint(5.0), checkpoint(5.0), checkpoint(9.0)]
    assert goals.not_growing(rows) is False, "a last checkpoint 4 ms slower than the first is growth"
