"""The links the inbox shows, pointed where a browser reaches the stack.

docs/runbooks.md and the committed rule files (every alert's runbook_url) link to the default
published ports, `http://localhost:8002` and so on: the one source is `.env` through
prometheus/links.py, and DOCUMENT_BASES below is this image's copy (the image carries neither),
held to it by tests/unit/test_links.py. A stack on other ports (compose with `*_HOST_PORT` set in
the environment, `make local` with `SHOP_PORT=28000 ...`) gives the inbox its public addresses,
`<COMPONENT>_PUBLIC_URL`; the inbox swaps the default bases for them in what it serves. Its own
links (the runbook sections) follow the address the browser used when INBOX_PUBLIC_URL is unset.
"""
import os
import re
from collections.abc import Mapping

from flask import current_app, request

DOCUMENT_BASES = {"inbox": "http://localhost:8002", "grafana": "http://localhost:3000",
                  "prometheus": "http://localhost:9090", "zipkin": "http://localhost:9411"}


def variable(component: str) -> str:
    """The environment variable that gives a component's public base URL."""
    return f"{component.upper()}_PUBLIC_URL"


def public_bases(environ: Mapping[str, str] | None = None, own_url: str = "") -> dict[str, str]:
    """{document base URL: the public base URL to show instead}, only for the ones that differ."""
    env = os.environ if environ is None else environ
    swaps = {}
    for component, base in DOCUMENT_BASES.items():
        public = env.get(variable(component), "").strip().rstrip("/")
        if component == "inbox" and not public:
            public = own_url.rstrip("/")
        if public and public != base:
            swaps[base] = public
    return swaps


def retarget(text: str, swaps: Mapping[str, str]) -> str:
    """`text` with every link on a swapped base moved to its public base (a longer port is not a match).

    One pass, so a public base that happens to be another component's default is not swapped again."""
    if not swaps:
        return text
    pattern = re.compile("(?:" + "|".join(re.escape(base) for base in swaps) + r")(?![0-9])")
    return pattern.sub(lambda match: swaps[match.group(0)], text)


def for_this_request(text: str) -> str:
    """`text` retargeted for the browser asking now (the app's config may set the variables, e.g. in tests)."""
    environ = {**os.environ, **{variable(c): current_app.config[variable(c)] for c in DOCUMENT_BASES
                                if current_app.config.get(variable(c))}}
    return retarget(text, public_bases(environ, request.host_url))
