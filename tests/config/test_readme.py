"""The README's copies of facts (commands, scenarios, alerts, panel titles) match their sources."""
import glob
import json
import os
import re
import subprocess

import pytest
import yaml

from tests.helpers.paths import REPO


def read(path):
    with open(os.path.join(REPO, path)) as source:
        return source.read()


README = read("README.md")


def panel_titles():
    titles = set()
    for path in glob.glob(os.path.join(REPO, "grafana", "dashboards", "*.json")):
        with open(path) as dashboard:
            titles |= {panel["title"] for panel in json.load(dashboard)["panels"]}
    return titles


def test_ci_runs_the_test_command_the_readme_gives():
    assert "`make test`" in README and "`make local`" in README and "`docker compose up`" in README
    assert re.search(r"^make test$", read(".ci/run"), re.M)


def test_every_panel_the_readme_names_exists():
    named = set(re.findall(r"(?<!\*)\*([^*|]+)\*(?!\*)", README.split("## A guided tour")[1]))
    named = {name for name in named if name[0].isupper() and name not in {"Shop"}}
    missing = named - panel_titles()
    assert not missing, f"README names panels no dashboard has: {sorted(missing)}"


def test_tour_table_matches_the_scenario_catalog():
    catalog = yaml.safe_load(read("loadgen/scenarios.yaml"))["scenarios"]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z-]+)` \|[^|]+\| ([^|]+) \|", README, re.M)}
    assert set(rows) == {scenario["name"] for scenario in catalog}
    for scenario in catalog:
        if scenario.get("dead_mans_switch"):  # no alert can arrive; the inbox's banner is what tells
            assert not scenario["expected_alerts"] and "Alerting pipeline broken" in rows[scenario["name"]]
            continue
        listed = {alert.strip() for alert in rows[scenario["name"]].split(",")}
        assert listed == set(scenario["expected_alerts"]), scenario["name"]


def top_level_entries():
    """Every file and folder git tracks at the top of the repository."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return {path.split("/", 1)[0] for path in tracked.splitlines()}


def listed_paths(markdown, heading):
    """The backquoted paths in the first column of the table under `heading`."""
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"^\| ([^|]+) \|", section, re.M)
    return {path.strip("/") for cell in cells for path in re.findall(r"`([^`]+)`", cell)}


@pytest.mark.parametrize("document, heading", [("README.md", "## How it is built"),
                                               ("docs/architecture.md", "## Map of the repository")])
def test_every_top_level_entry_is_listed_with_its_purpose(document, heading):
    listed = {path.split("/", 1)[0] for path in listed_paths(read(document), heading)}
    missing = top_level_entries() - listed
    assert not missing, f"{document} ({heading}) does not list these top-level entries: {sorted(missing)}"
    gone = {path for path in listed_paths(read(document), heading)
            if not os.path.exists(os.path.join(REPO, path.split(" ")[0]))}
    assert not gone, f"{document} ({heading}) lists paths that do not exist: {sorted(gone)}"


def compose_memory_statement(readme):
    """(sum, budget, Grafana, per shop replica) in MiB, as the README's Scaling section states them."""
    match = re.search(r"add up to (\d+) MiB, within the compose memory budget of (\d+) MiB.*?Grafana takes "
                      r"(\d+) MiB.*?Each extra shop\s+replica adds (\d+) MiB", readme, re.S)
    assert match, "README.md no longer states the compose memory budget (Scaling section)."
    return tuple(int(value) for value in match.groups())


def test_the_readme_states_the_compose_memory_budget_the_static_check_holds():
    """The sum of docker-compose.yml's limits, the budget tests/helpers/compose_checks.py enforces, Grafana's
    and a shop replica's limits: the README's copies match them (a changed limit fails here until restated)."""
    from tests.helpers import compose_checks
    compose = compose_checks.load(REPO / "docker-compose.yml")
    limit = {name: compose_checks.memory_bytes(compose_checks.memory_limit(service)) // 2**20
             for name, service in compose["services"].items()}
    actual = (compose_checks.memory_total(compose) // 2**20, compose_checks.MEMORY_BUDGET_BYTES // 2**20,
              limit["grafana"], limit["shop"])
    assert compose_memory_statement(README) == actual
    assert limit["grafana"] >= 512, "Grafana's documented minimum is 512 MB."


def test_the_readme_shows_every_generated_picture_with_one_line_on_what_to_notice():
    from launcher.screenshots import IMAGES_DIR, PICTURES
    shown = re.findall(r"^!\[([^\]]+)\]\(docs/images/([^)]+)\)\n(\S.*)$", README, re.M)
    assert sorted(name for _, name, _ in shown) == sorted(PICTURES), "README pictures differ from make screenshots"
    assert len(shown) >= 3
    for alt, name, line in shown:
        assert alt.strip() and line.strip(), f"docs/images/{name} needs alt text and a line on what to notice"
        with open(os.path.join(IMAGES_DIR, name), "rb") as picture:
            header = picture.read(24)
        assert header[:8] == b"\x89PNG\r\n\x1a\n", f"docs/images/{name} is not a PNG"
        width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
        assert width >= 300 and height >= 100, f"docs/images/{name} is {width}x{height}: not a real screenshot"
    assert re.search(r"There is no Grafana screenshot", README), "the README says why there is no Grafana picture"
