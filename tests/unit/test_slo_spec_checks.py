"""The SLO spec's checks (prometheus/slo/spec.py): every inconsistency is refused with a sentence saying where.

tests/config/test_prometheus_rules.py holds the committed rule files to the
spec as it is; here each check is tried on a spec broken in one place, and the
duration arithmetic at its edges.
"""
import copy

import pytest
import yaml

from prometheus.slo import spec as slo_spec
from prometheus.slo.spec import SpecError, format_duration, parse_duration

REAL = yaml.safe_load(slo_spec.SPEC_PATH.read_text())


def load_changed(tmp_path, change):
    """Load the real spec after `change(doc)` edited its parsed YAML."""
    doc = copy.deepcopy(REAL)
    change(doc)
    path = tmp_path / "slos.yml"
    path.write_text(yaml.safe_dump(doc))
    return slo_spec.load(path)


def refusal(tmp_path, change):
    """The message of the SpecError loading the changed spec raises."""
    with pytest.raises(SpecError) as refused:
        load_changed(tmp_path, change)
    return str(refused.value)


@pytest.mark.parametrize("text, seconds", [("20s", 20), ("5m", 300), ("1h", 3600), ("30d", 2_592_000), ("0s", 0)])
def test_a_duration_is_read_in_its_unit(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5", "5 m", "1h30m", "m", "5w", " 5m", "5m ", "1.5h", ""])
def test_anything_but_one_whole_number_and_one_unit_is_not_a_duration(text):
    with pytest.raises(SpecError) as refused:
        parse_duration(text)
    assert str(refused.value) == f"{text!r} is not a duration like 20s, 5m, 1h or 30d."


@pytest.mark.parametrize("seconds, text", [(86400, "1d"), (172800, "2d"), (5760, "96m"), (3600, "1h"),
                                           (90, "90s"), (20, "20s"), (7200, "2h"), (0, "0d")])
def test_a_duration_is_written_in_its_largest_whole_unit(seconds, text):
    assert format_duration(seconds) == text


def test_a_fraction_of_a_second_cannot_be_written():
    with pytest.raises(SpecError, match=r"^1\.5 is not a whole number of seconds\.$"):
        format_duration(1.5)


def test_the_real_spec_loads_with_its_budgets_and_windows():
    spec = slo_spec.load()
    assert [(slo.name, slo.budget) for slo in spec.slos] == [
        ("availability", 0.005), ("latency", 0.01), ("checkout", 0.01)]
    assert spec.default_profile == "demo"
    assert spec.profiles["30d"].windows == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"], "shortest first"
    assert [a.budget_spent for a in spec.profiles["30d"].alerts] == [0.02, 0.05, 0.1, 0.1]
    assert [a.severity for a in spec.profiles["demo"].alerts] == ["critical", "critical", "warning", "warning"]
    availability = spec.slos[0]
    assert availability.errors.startswith('shop_http_request_duration_seconds_count{route!~"/metrics|')
    assert availability.good is None and spec.slos[1].errors is None
    assert "${" not in availability.total, "a matcher placeholder was left unfilled"


def test_a_window_that_does_not_divide_into_whole_seconds_is_refused(tmp_path):
    message = refusal(tmp_path, lambda doc: doc["profiles"]["demo"].update(compression=7))
    assert message == "profile demo: window 1h of 1h does not divide by 7 into whole seconds.", message


def test_a_window_shorter_than_min_window_is_refused_with_both_lengths(tmp_path):
    message = refusal(tmp_path, lambda doc: doc.update(min_window="21s"))
    assert message == "profile demo: window 5m becomes 20s, shorter than min_window (21s).", message


def test_a_window_exactly_min_window_long_is_accepted(tmp_path):
    spec = load_changed(tmp_path, lambda doc: doc.update(min_window="20s"))
    assert spec.profiles["demo"].windows[0] == "20s"


def test_a_short_window_as_long_as_its_long_window_is_refused(tmp_path):
    def same(doc):
        doc["burn_rate_alerts"][0]["short"] = "1h"
    assert refusal(tmp_path, same) == "Alert window 1h/1h: the short window must be shorter."


def test_an_unknown_severity_is_refused(tmp_path):
    def page(doc):
        doc["burn_rate_alerts"][1]["severity"] = "page"
    assert refusal(tmp_path, page) == "Severity 'page' is not critical, warning or info."


def test_info_is_a_severity(tmp_path):
    def info(doc):
        doc["burn_rate_alerts"][3]["severity"] = "info"
    assert load_changed(tmp_path, info).profiles["30d"].alerts[3].severity == "info"


def test_a_budget_period_that_does_not_divide_is_refused(tmp_path):
    message = refusal(tmp_path, lambda doc: doc.update(period="2592001s"))
    assert message == "profile demo: period of 2592001s does not divide by 15 into whole seconds.", message


def test_an_unknown_matcher_is_refused_by_name(tmp_path):
    message = refusal(tmp_path, lambda doc: doc.update(matchers={}))
    assert message == "SLO availability uses the matcher 'customer_routes', which `matchers` does not define.", message


def test_an_slo_with_both_errors_and_good_is_refused(tmp_path):
    def both(doc):
        doc["slos"][0]["good"] = "up"
    assert refusal(tmp_path, both) == "SLO availability must have exactly one of `errors` or `good`."


def test_an_slo_with_neither_errors_nor_good_is_refused(tmp_path):
    def neither(doc):
        del doc["slos"][1]["good"]
    assert refusal(tmp_path, neither) == "SLO latency must have exactly one of `errors` or `good`."


@pytest.mark.parametrize("objective", [0.5, 1, 99.5])
def test_an_objective_that_is_not_a_ratio_above_a_half_is_refused(tmp_path, objective):
    def percent(doc):
        doc["slos"][2]["objective"] = objective
    assert refusal(tmp_path, percent) == (
        f"SLO checkout has objective {objective}; use a ratio such as 0.995.")


def test_an_objective_just_above_a_half_is_accepted(tmp_path):
    def low(doc):
        doc["slos"][2]["objective"] = 0.51
    assert load_changed(tmp_path, low).slos[2].budget == 0.49


def test_a_missing_key_is_refused_by_name(tmp_path):
    path = tmp_path / "slos.yml"
    assert refusal(tmp_path, lambda doc: doc.pop("min_window")) == f"The SLO spec {path} lacks the key 'min_window'."
    assert refusal(tmp_path, lambda doc: doc["slos"][0].pop("alert")) == (
        f"The SLO spec {path} lacks the key 'alert'.")


def test_two_slos_with_one_name_are_refused(tmp_path):
    def twice(doc):
        doc["slos"][1]["name"] = "availability"
    assert refusal(tmp_path, twice) == "Two SLOs in the spec share a name."


def test_a_default_profile_that_does_not_exist_is_refused(tmp_path):
    assert refusal(tmp_path, lambda doc: doc.update(default_profile="7d")) == (
        "default_profile '7d' is not one of the profiles.")


def test_a_spec_without_matchers_is_fine_when_no_slo_uses_one(tmp_path):
    def plain(doc):
        del doc["matchers"]
        for slo in doc["slos"]:
            for key in ("errors", "good", "total"):
                if key in slo:
                    slo[key] = slo[key].replace("${customer_routes}", 'route!="/metrics"')
    spec = load_changed(tmp_path, plain)
    assert spec.slos[0].total == 'shop_http_request_duration_seconds_count{route!="/metrics"}'


def test_a_spec_without_matchers_refuses_an_slo_that_uses_one(tmp_path):
    message = refusal(tmp_path, lambda doc: doc.pop("matchers"))
    assert message == "SLO availability uses the matcher 'customer_routes', which `matchers` does not define.", message


def test_each_profile_keeps_its_compression():
    assert {name: profile.compression for name, profile in slo_spec.load().profiles.items()} == {"30d": 1, "demo": 15}


def test_the_budget_an_alert_spends_is_a_share_to_four_places(tmp_path):
    """1.5 x 1h of 30d is 0.208333...% of the budget: the description says 0.21%."""
    def gentle(doc):
        doc["burn_rate_alerts"][0]["burn_rate"] = 1.5
    assert load_changed(tmp_path, gentle).profiles["30d"].alerts[0].budget_spent == 0.0021
