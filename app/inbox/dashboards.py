"""The inbox's dashboard links: which panel each runbook section opens, and links to dashboards and panels.

docs/runbooks.md says, in each alert's section, which panel tells the story: a paragraph
`**Open.** shop-business, panel "Orders placed vs checkouts" ...` (or `panels "A" and "B"`). The first
panel it names is the alert's story panel (the inbox draws it beside the alert's own graph, story_graphs.py);
the file is parsed once per modification.

On the runbooks page every `uid, panel "title"` becomes a link to that panel, and each dashboard link
(`http://localhost:3000/d/<uid>`) goes where the stack shows dashboards: Grafana, or, where no Grafana runs
(DASHBOARD_LINKS=prometheus, app/common/dashboard_links.py), Prometheus's graph page with the queries.
Links are built on the document's default bases (public_links.DOCUMENT_BASES); public_links moves them to
where the browser reaches the stack, as it does for the file's own links.
"""
import re
from functools import lru_cache
from html import escape, unescape
from pathlib import Path

from flask import current_app

from app.common import dashboard_panels
from app.common.dashboard_links import DashboardLinks
from app.inbox.public_links import DOCUMENT_BASES

_SECTION = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_OPEN = "**Open.**"
_cache: dict = {}


def links(target: str | None = None) -> DashboardLinks:
    """Dashboard links on the document's bases, to the app's DASHBOARD_LINKS target (or the one given)."""
    return DashboardLinks(DOCUMENT_BASES["grafana"], DOCUMENT_BASES["prometheus"],
                          target or current_app.config["DASHBOARD_LINKS"])


@lru_cache(maxsize=1)
def _reference() -> re.Pattern:
    """`uid, panel "title"` (or `panels "A" and "B"`) for every dashboard of the index, in text or in HTML."""
    uids = "|".join(re.escape(uid) for uid in sorted(dashboard_panels.index()["dashboards"], key=len, reverse=True))
    quoted = r'(?:"|&quot;)([^"<]+?)(?:"|&quot;)'
    return re.compile(rf"(?<![\w-])({uids}),\s+panels?\s+{quoted}((?:(?:,|,?\s+and)\s+{quoted})*)")


def _known(uid: str, title: str) -> bool:
    try:
        dashboard_panels.panel(uid, title)
    except dashboard_panels.UnknownPanel:
        return False
    return True


def parse_story_panels(text: str) -> dict[str, tuple[str, str]]:
    """{section anchor: (uid, panel title)}: the first panel each section's **Open.** paragraph names that exists."""
    from app.inbox.runbooks import heading_id  # here: runbooks.py imports this module
    found: dict[str, tuple[str, str]] = {}
    anchor, paragraph, fenced = None, [], False
    for line in text.splitlines() + [""]:
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced  # a `# comment` in a code block is no heading
        heading = None if fenced else _SECTION.match(line)
        if heading:
            anchor, paragraph = heading_id(heading.group(2)), []
            continue
        if line.strip():
            paragraph.append(line.strip())
            continue
        joined = " ".join(paragraph)
        paragraph = []
        if anchor is None or anchor in found or not joined.startswith(_OPEN):
            continue
        match = _reference().search(joined)
        if match and _known(match.group(1), match.group(2)):
            found[anchor] = (match.group(1), match.group(2))
    return found


def story_panels(path: Path) -> dict[str, tuple[str, str]]:
    """The runbook file's story panels by section anchor, parsed again only when the file changes ({} if missing)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, parse_story_panels(path.read_text(encoding="utf-8")))
        _cache[path] = cached
    return cached[1]


def link_references(html: str, dashboard_links: DashboardLinks) -> str:
    """The rendered runbooks with every panel reference a link and every Grafana dashboard link retargeted."""
    grafana = re.escape(DOCUMENT_BASES["grafana"])

    def dashboard(match: re.Match) -> str:
        if match.group(1) not in dashboard_panels.index()["dashboards"]:
            return match.group(0)
        return f'href="{escape(dashboard_links.dashboard(match.group(1)))}"'

    def panel_link(uid: str, quoted_title: str, text: str) -> str:
        title = " ".join(unescape(quoted_title).split())
        if not _known(uid, title):
            return text
        return f'<a class="panel-link" href="{escape(dashboard_links.panel(uid, title))}">{text}</a>'

    def reference(match: re.Match) -> str:
        uid, first, rest = match.group(1), match.group(2), match.group(3)
        head = match.group(0)[:len(match.group(0)) - len(rest)]
        more = re.sub(r"(&quot;|\")([^\"<]+?)(&quot;|\")",
                      lambda m: panel_link(uid, m.group(2), m.group(0)), rest)
        return panel_link(uid, first, head) + more

    html = re.sub(rf'href="{grafana}/d/([\w-]+)"', dashboard, html)
    return _reference().sub(reference, html)
