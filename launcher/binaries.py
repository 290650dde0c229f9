"""Find the programs the stack needs: the pinned upstream builds first, then whatever the platform calls them.

Prometheus, Alertmanager and the exporters run at the versions .env pins, built by `launcher/upstream.py` into a
cache outside the repository. Only when a build is missing does a program on PATH stand in, with a warning on
stderr: Debian renames some (`prometheus-alertmanager`), release tarballs and Homebrew use the upstream names.
"""
import shutil
import sys

from launcher import upstream

NAMES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
    "pushgateway": ("prometheus-pushgateway", "pushgateway"),
    "node_exporter": ("prometheus-node-exporter", "node_exporter"),
    "blackbox_exporter": ("prometheus-blackbox-exporter", "blackbox_exporter"),
    "grafana": ("grafana", "grafana-server"),
    "chromium": ("chromium", "chromium-browser", "google-chrome"),
    "wrk": ("wrk",),
    "java": ("java",),
}
DEBIAN_PACKAGES = {
    "prometheus": "prometheus", "promtool": "prometheus", "alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager", "pushgateway": "prometheus-pushgateway",
    "node_exporter": "prometheus-node-exporter", "blackbox_exporter": "prometheus-blackbox-exporter",
    "chromium": "chromium", "wrk": "wrk", "java": "default-jre-headless",
}
_warned = set()


class MissingProgram(RuntimeError):
    """A program the stack needs is not installed."""


def optional(program):
    """The path of a program, or None when it is not installed."""
    pinned = upstream.installed(program)
    if pinned is not None:
        return str(pinned)
    for name in NAMES[program]:
        path = shutil.which(name)
        if path:
            if program in upstream.UPSTREAM_OF and program not in _warned:
                _warned.add(program)
                print(f"warning: {program}: no build at the version .env pins, using {path} instead; "
                      "run `make os-deps` (launcher/upstream.py builds it) and read why the build failed.",
                      file=sys.stderr)
            return path
    return None


def find(program):
    """The path of a program, or MissingProgram naming what to do."""
    path = optional(program)
    if path is None:
        package = DEBIAN_PACKAGES.get(program, program)
        if program in upstream.UPSTREAM_OF:
            raise MissingProgram(
                f"{program} is not built at the version .env pins and is not on PATH either. Run `make os-deps` "
                f"(launcher/upstream.py builds it from its Go module; as root on Debian/Ubuntu it installs the "
                f"{package} package if the build fails).")
        raise MissingProgram(
            f"Cannot find {' or '.join(NAMES[program])} on PATH. Install it (Debian/Ubuntu: "
            f"apt-get install --no-install-recommends {package}), or run `make os-deps` as root.")
    return path
