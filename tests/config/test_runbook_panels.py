"""Every alert's runbook section opens a panel the index holds: the inbox draws that panel beside the alert
(app/inbox/story_graphs.py) and links it, so a renamed panel or a section without one is caught here, not as a
missing graph on the page. The sections may name panels in any paragraph; the story is the first panel of
the `**Open.**` paragraph (app/inbox/dashboards.py)."""
from app.common import dashboard_panels
from app.inbox.dashboards import parse_story_panels
from app.inbox.runbooks import heading_id
from tests.helpers.rule_files import RUNBOOKS, rules

# Alerts whose story is not a panel, and where the section sends the reader instead.
WITHOUT_A_PANEL = {"ShopTargetDown": "Prometheus' targets page"}


def test_every_alerts_runbook_section_opens_a_panel_of_the_index():
    stories = parse_story_panels(RUNBOOKS.read_text())
    alerts = sorted({rule["alert"] for _path, rule in rules("alert")})
    missing = [name for name in alerts if name not in WITHOUT_A_PANEL and heading_id(name) not in stories]
    assert not missing, f"These alerts' runbook sections open no panel the index holds: {missing}."
    for name in alerts:
        if heading_id(name) in stories:
            uid, title = stories[heading_id(name)]
            assert dashboard_panels.panel_queries(uid, title), f"{name}: {uid} panel {title!r} has no query"


def test_the_alerts_without_a_panel_say_where_to_look_instead():
    text = RUNBOOKS.read_text()
    stories = parse_story_panels(text)
    for name, instead in WITHOUT_A_PANEL.items():
        assert heading_id(name) not in stories, f"{name} now opens a panel: drop it from WITHOUT_A_PANEL."
        section = text[text.index(f"## {name}\n"):]
        assert f"**Open.** {instead}" in section[:section.index("\n## ")], name


def test_the_story_is_the_first_panel_the_open_paragraph_names():
    text = """## AlertOne

**What it means.** shop-overview, panel "Errors by version" is not the story.

**Open.** shop-business, panel "Orders placed vs
checkouts"; then shop-overview, panel "Errors by version".

## AlertTwo

**Open.** shop-monitoring, panels "No such panel" and "Healthy shop targets".

## AlertThree

**Open.** Prometheus' targets page.

```
# not a heading
```

**Open.** shop-overview, panel "Errors by version": still AlertThree's section, after its code block.
"""
    assert parse_story_panels(text) == {"alertone": ("shop-business", "Orders placed vs checkouts"),
                                        "alertthree": ("shop-overview", "Errors by version")}
