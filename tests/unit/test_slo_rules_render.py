"""The SLO rule generator (prometheus/slo/render.py), in-process: its output is the committed rule files.

tests/config/test_prometheus_rules.py runs `prometheus.generate --check` as a
command; this renders each profile here and compares it with the committed
file line by line (comments included: they are the rules' documentation), and
checks the text stays readable for a spec with non-ASCII descriptions.
"""
import dataclasses

import pytest
import yaml

from prometheus import links
from prometheus.slo import render as slo_render
from prometheus.slo import spec as slo_spec
from tests.helpers.rule_files import PROMETHEUS_DIR

SPEC = slo_spec.load()


@pytest.mark.parametrize("profile", sorted(SPEC.profiles))
def test_each_profile_renders_exactly_its_committed_rule_file(profile):
    rendered = slo_render.render(SPEC, SPEC.profiles[profile], links.published()).splitlines()
    committed = (PROMETHEUS_DIR / "rules" / f"slo-{profile}.yml").read_text().splitlines()
    differing = [(number, ours, theirs) for number, (ours, theirs) in enumerate(zip(rendered, committed), start=1)
                 if ours != theirs]
    assert not differing and len(rendered) == len(committed), (
        f"slo-{profile}.yml differs from what the spec renders; first difference (line, rendered, committed): "
        f"{differing[:1]}, {len(rendered)} vs {len(committed)} lines")


def test_the_budget_group_is_evaluated_once_a_minute_and_the_slo_groups_at_the_global_interval():
    groups = yaml.safe_load(slo_render.render(SPEC, SPEC.profiles["demo"], links.published()))["groups"]
    intervals = {group["name"]: group.get("interval") for group in groups}
    assert intervals == {"slo-availability-demo": None, "slo-latency-demo": None, "slo-checkout-demo": None,
                         "slo-budget-demo": "1m"}, intervals


def test_non_ascii_text_is_written_as_itself_not_escaped():
    slo = dataclasses.replace(SPEC.slos[0], description="requêtes servies sans erreur")
    spec = dataclasses.replace(SPEC, slos=(slo,))
    text = slo_render.render(spec, SPEC.profiles["demo"], links.published())
    assert "requêtes servies sans erreur" in text and "\\u00ea" not in text
    alert = next(rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"] if "alert" in rule)
    assert "requêtes servies sans erreur" in alert["annotations"]["description"]
