"""GET /runbooks: docs/runbooks.md rendered as HTML, one anchor per alert.

Each heading's id is its text in lower case (`## ShopPaymentsErrorRatioHigh`
becomes `#shoppaymentserrorratiohigh`), which is what every alert's
`runbook_url` points at. The file is re-rendered only when it changes.
"""
import os
import re
from pathlib import Path

import markdown
from flask import Blueprint, current_app, render_template

RUNBOOKS_ENV = "INBOX_RUNBOOKS_PATH"
# The repository's docs/runbooks.md, found relative to this package (app/inbox/ -> repo root).
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "runbooks.md"

blueprint = Blueprint("runbooks", __name__)
_cache = {}


def heading_id(text, separator="-"):
    """Anchor for a heading: lower case; anything but letters, digits and _ becomes the separator."""
    return re.sub(r"[^a-z0-9_]+", separator, text.strip().lower()).strip(separator)


def runbooks_path():
    """Where the runbooks file is read from (config, then environment, then the repository)."""
    return Path(current_app.config.get("RUNBOOKS_PATH") or os.environ.get(RUNBOOKS_ENV) or DEFAULT_PATH)


def render_runbooks(path):
    """The file as HTML, cached until its modification time changes."""
    mtime = path.stat().st_mtime_ns
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    converter = markdown.Markdown(extensions=["toc", "tables", "fenced_code"],
                                  extension_configs={"toc": {"slugify": heading_id}})
    html = converter.convert(path.read_text(encoding="utf-8"))
    _cache[path] = (mtime, html)
    return html


@blueprint.get("/runbooks")
def show():
    """The rendered runbooks, or a page that says where the missing file was expected."""
    path = runbooks_path()
    try:
        html = render_runbooks(path)
    except FileNotFoundError:
        message = (f"The runbooks file was not found at {path}. It is docs/runbooks.md in the repository; "
                   f"set {RUNBOOKS_ENV} if it lives elsewhere.")
        return render_template("runbooks.html", content=None, message=message), 404
    return render_template("runbooks.html", content=html, message=None)
