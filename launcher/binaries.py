"""Find the OS programs the stack needs, whatever the platform calls them.

Debian renames some Prometheus programs (`prometheus-alertmanager`); release
tarballs and Homebrew use the upstream names. Look them up at run time.
"""
import shutil

NAMES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
    "pushgateway": ("prometheus-pushgateway", "pushgateway"),
    "node_exporter": ("prometheus-node-exporter", "node_exporter"),
    "grafana": ("grafana", "grafana-server"),
    "chromium": ("chromium", "chromium-browser", "google-chrome"),
    "wrk": ("wrk",),
}
DEBIAN_PACKAGES = {
    "prometheus": "prometheus", "promtool": "prometheus", "alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager", "pushgateway": "prometheus-pushgateway",
    "node_exporter": "prometheus-node-exporter", "chromium": "chromium", "wrk": "wrk",
}


class MissingProgram(RuntimeError):
    """A program the stack needs is not installed."""


def optional(program):
    """The path of a program, or None when it is not installed."""
    for name in NAMES[program]:
        path = shutil.which(name)
        if path:
            return path
    return None


def find(program):
    """The path of a program, or MissingProgram naming what to install."""
    path = optional(program)
    if path is None:
        package = DEBIAN_PACKAGES.get(program, program)
        raise MissingProgram(
            f"Cannot find {' or '.join(NAMES[program])} on PATH. Install it (Debian/Ubuntu: "
            f"apt-get install --no-install-recommends {package}), or run `make os-deps` as root.")
    return path
