"""GET /runbooks: docs/runbooks.md rendered as HTML, one anchor per alert.

Rendered as CommonMark (plus tables), like GitHub shows the same file. Each
heading's id is its text in lower case (`## ShopPaymentsErrorRatioHigh`
becomes `#shoppaymentserrorratiohigh`), which is what every alert's
`runbook_url` points at. The file is re-rendered only when it changes; its dashboard links and
panel references become links to Grafana or, where no Grafana runs, to Prometheus's graph page
(dashboards.py); its links to the stack move to the stack's public addresses on every request
(public_links.py).
"""
import os
import re
from pathlib import Path

from flask import Blueprint, current_app, render_template
from markdown_it import MarkdownIt

from app.inbox import dashboards, public_links

RUNBOOKS_ENV = "INBOX_RUNBOOKS_PATH"
# The repository's docs/runbooks.md, found relative to this package (app/inbox/ -> repo root).
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "runbooks.md"

bp = Blueprint("runbooks", __name__)
_cache = {}


def heading_id(text, separator="-"):
    """Anchor for a heading: lower case; anything but letters, digits and _ becomes the separator."""
    return re.sub(r"[^a-z0-9_]+", separator, text.strip().lower()).strip(separator)


def _heading_open(renderer, tokens, index, options, env):
    """Render <hN> with an id from the heading's text, made unique within the page."""
    inline = tokens[index + 1]
    text = "".join(child.content for child in inline.children or () if child.type in ("text", "code_inline"))
    anchor = base = heading_id(text) or "section"
    used = env.setdefault("heading_ids", set())
    suffix = 1
    while anchor in used:
        anchor, suffix = f"{base}-{suffix}", suffix + 1
    used.add(anchor)
    tokens[index].attrSet("id", anchor)
    return renderer.renderToken(tokens, index, options, env)


def markdown_renderer():
    """CommonMark with tables; raw HTML in the file is shown as text, not interpreted."""
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    renderer.add_render_rule("heading_open", _heading_open)
    return renderer


def runbooks_path():
    """Where the runbooks file is read from (config, then environment, then the repository)."""
    return Path(current_app.config.get("RUNBOOKS_PATH") or os.environ.get(RUNBOOKS_ENV) or DEFAULT_PATH)


def render_runbooks(path, target=None):
    """The file as HTML with its dashboard and panel links for `target` (default: the app's DASHBOARD_LINKS),
    cached until its modification time changes."""
    links = dashboards.links(target)
    mtime = path.stat().st_mtime_ns
    cached = _cache.get(path)
    if cached and cached[:2] == (mtime, links.target):
        return cached[2]
    html = dashboards.link_references(markdown_renderer().render(path.read_text(encoding="utf-8")), links)
    _cache[path] = (mtime, links.target, html)
    return html


@bp.get("/runbooks")
def show():
    """The rendered runbooks, or a page that says where the missing file was expected."""
    path = runbooks_path()
    try:
        html = render_runbooks(path)
    except FileNotFoundError:
        message = (f"The runbooks file was not found at {path}. It is docs/runbooks.md in the repository; "
                   f"set {RUNBOOKS_ENV} if it lives elsewhere.")
        return render_template("runbooks.html", content=None, message=message), 404
    return render_template("runbooks.html", content=public_links.for_this_request(html), message=None,
                           dashboards_in_prometheus=dashboards.links().to_prometheus)
