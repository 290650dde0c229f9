"""The bench's verdicts (bench/goals.py): each goal exactly at its boundary and just past it."""
import pytest

from bench import goals
from bench.goals import DETECT_GOAL_SECONDS, RESOLVE_GOAL_SECONDS


@pytest.mark.parametrize("ratio, met", [(0.95, True), (0.9499, False), (1.02, True)])
def test_ours_loses_at_most_five_percent_of_throughput(ratio, met):
    assert goals.loses_at_most_allowed_throughput(ratio) is met, f"throughput ratio {ratio}"


@pytest.mark.parametrize("ours, exporter, met", [(74_117, 195_685, True), (1000, 1000, True), (1001, 1000, False)])
def test_ours_adds_no_more_instructions_than_the_exporter(ours, exporter, met):
    assert goals.costs_no_more_than_exporter(ours, exporter) is met, f"ours +{ours} vs exporter +{exporter}"


@pytest.mark.parametrize("ours, auto, met", [(90_000, 400_000, True), (1000, 1000, True), (1001, 1000, False)])
def test_our_tracing_adds_no_more_instructions_than_auto_instrumentation(ours, auto, met):
    assert goals.tracing_costs_no_more_than_auto(ours, auto) is met, f"ours +{ours} vs auto +{auto}"


@pytest.mark.parametrize("median_ms, p99_ms, met", [
    (4.2, 25.0, True),      # exactly at the goal
    (4.2, 25.01, False),    # the p99 just past it fails, however low the median
    (25.01, 25.01, False),
])
def test_a_scrape_checkpoint_is_judged_on_its_p99(median_ms, p99_ms, met):
    assert goals.scrape_within_goal({"median_ms": median_ms, "p99_ms": p99_ms}) is met


@pytest.mark.parametrize("detected, resolved, tickets_only, met", [
    (30, 40, False, True),
    (DETECT_GOAL_SECONDS, RESOLVE_GOAL_SECONDS, False, True),     # exactly at both goals
    (DETECT_GOAL_SECONDS + 1, 40, False, False),      # detected too late
    (None, None, False, False),                       # never detected
    (30, RESOLVE_GOAL_SECONDS + 1, False, False),     # a page that resolved too late
    (30, None, False, False),                         # a page that never resolved
    (30, None, True, True),                           # only tickets fired: they resolve by design, later
    (DETECT_GOAL_SECONDS + 1, None, True, False),     # tickets do not excuse late detection
])
def test_detection_goals(detected, resolved, tickets_only, met):
    assert goals.meets_detection_goals(detected, resolved, tickets_only) is met


def checkpoint(median_ms, files=26, series=488):
    return {"median_ms": median_ms, "files": files, "series": series}


@pytest.mark.parametrize("rows, flat", [
    ([checkpoint(5.5), checkpoint(5.0), checkpoint(5.6)], True),
    ([checkpoint(5.0), checkpoint(6.0)], True),                     # exactly 20% (and 1 ms) slower: noise
    ([checkpoint(5.0), checkpoint(6.01)], False),                   # just past both
    ([checkpoint(10.0), checkpoint(12.0)], True),                   # 20% of a slower scrape is more than 1 ms
    ([checkpoint(10.0), checkpoint(12.01)], False),
    ([checkpoint(2.0), checkpoint(3.0)], True),                     # 1 ms of a fast scrape is more than 20%
    ([checkpoint(2.0), checkpoint(3.01)], False),
    ([checkpoint(5.5), checkpoint(5.6, files=27)], False),          # a restart left a file behind
    ([checkpoint(5.5), checkpoint(5.6, series=520)], False),        # restarts made new series
])
def test_scrape_not_growing_with_restarts(rows, flat):
    assert goals.not_growing(rows) is flat, rows


@pytest.mark.parametrize("rss_mib, met", [(483, True), (700, True), (700.001, False)])
def test_footprint_goal(rss_mib, met):
    assert goals.footprint_within_goal(int(rss_mib * 2**20)) is met, f"{rss_mib} MiB"


@pytest.mark.parametrize("achieved, target, met", [(499.9, 500, True), (475.0, 500, True), (474.9, 500, False)])
def test_load_generator_keeps_its_rate(achieved, target, met):
    assert goals.keeps_rate(achieved, target) is met, f"{achieved}/s of {target}/s"


def test_the_table_shows_the_verdicts_the_goals_give():
    """A scrape row with a p99 over the goal is shown as missed even when its median is fine."""
    from bench import table
    row = {"when": "fresh", "files": 4, "series": 488, "median_ms": 4.0, "p99_ms": 30.0}
    rendered = table.scrape_rows({"rows": [row, row], "goals": {"not_growing_with_restarts": True}})
    assert rendered[-1][-1] == "NO", rendered


@pytest.mark.parametrize("seconds, met", [(0.02, True), (1.0, True), (1.001, False), (None, False)])
def test_healthz_answers_within_a_second_under_slow_clients(seconds, met):
    assert goals.answers_under_slow_clients(seconds) is met, f"/healthz after {seconds} s"


def test_the_worker_model_rows_show_the_slow_client_verdict_and_the_contrast():
    from bench import table, worker_model
    turn = {"rate": 500.0, "cpu_us_per_request": 1000.0, "latency_p50_us": 900.0}
    summary = worker_model.summarise([{"gthread": turn, "sync": dict(turn, cpu_us_per_request=950.0)}],
                                     {"gthread": 0.012, "sync": None})
    summary["settings"] = {"rounds": 1, "slow_connections": 4, "probe_timeout_seconds": 5.0}
    rendered = table.worker_model_rows(summary)
    assert rendered[3][2:] == ("0.012 s", "<= 1 s", "yes"), rendered[3]
    assert rendered[4][2] == "no answer in 5 s", rendered[4]
    assert rendered[1][2] == "+50 us", "gthread's extra CPU per request against sync is shown with its sign"


@pytest.mark.parametrize("seconds, met", [(0.26, True), (1.0, True), (1.001, False)])
def test_the_inbox_page_of_fifty_comes_within_a_second(seconds, met):
    assert goals.inbox_page_within_goal(seconds) is met, f"page after {seconds} s"


def test_the_inbox_graphs_row_shows_the_verdict():
    from bench import table
    result = {"cold_seconds": 1.2, "warm_median_seconds": 0.02, "warm_max_seconds": 0.03,
              "goals": {"page_of_50_within_1_s": goals.inbox_page_within_goal(1.2)},
              "settings": {"notifications": 50, "warm_loads": 20}}
    assert table.inbox_graphs_rows(result)[0][2:] == ("1.200 s; 0.020 s, 0.030 s", "<= 1 s", "NO")


def test_the_tracing_rows_show_what_each_adds_and_the_verdict():
    from bench import table, tracing_cost
    summary = tracing_cost.summarise({"none": 1_000_000, "ours": 1_100_001, "auto": 1_100_000},
                                     {"none": 0.0, "ours": 5.0, "auto": 2.0})
    summary["settings"] = {"sample_ratio": 1.0}
    rendered = table.tracing_rows(summary)
    assert rendered[0][2:] == ("+100,001 (10.0%) vs +100,000 (10.0%)", "ours <= auto", "NO"), rendered[0]
    assert rendered[1][2] == "5 vs 2", rendered[1]
