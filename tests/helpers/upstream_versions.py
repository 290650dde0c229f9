"""What version an upstream program says it is, and what .env says it must be (launcher/upstream.py builds it)."""
import re

from launcher import upstream

# First line of `prometheus --version` and its kin: "prometheus, version 3.16.0 (branch: HEAD, revision: ...)".
_VERSION_LINE = re.compile(r"^(\S+), version (\S+)", re.MULTILINE)


def reported(output):
    """(program, version) from the output of `<program> --version`, or None when it has no version line."""
    match = _VERSION_LINE.search(output)
    return (match.group(1), match.group(2)) if match else None


def pinned(program):
    """The version .env pins for an upstream program, as the program prints it: "3.16.0" for v3.16.0."""
    return upstream.pinned_versions()[upstream.UPSTREAM_OF[program].name].lstrip("v")
