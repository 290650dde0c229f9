"""Checks of what the compose file points at: schema, mounted configs, Dockerfiles.

Like compose_checks.py, each function returns a list of problems (whole
sentences); an empty list means the check passed.
"""
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from launcher import binaries
from tests.helpers.compose_checks import flag_value, image_reference_problem, load, mounted_host_path, services

TOOL_TIMEOUT_SECONDS = 60


def _run(command):
    """Run a checking tool; return its status and output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_SECONDS)
    return result.returncode, (result.stdout + result.stderr).strip()


def schema_errors(compose_path):
    """The file validates against the compose-spec JSON schema (check-jsonschema's vendored copy)."""
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    status, output = _run([tool, "--builtin-schema", "vendor.compose-spec", str(compose_path)])
    return [] if status == 0 else [f"{compose_path} does not match the compose-spec schema: {output}"]


def mounted_config(compose, project_dir, service, flag):
    """The host file a service's --flag=<path in the container> reads, through its bind mounts."""
    return mounted_host_path(compose, project_dir, service, flag_value(services(compose)[service], flag))


def promtool_problems(compose, project_dir):
    """The Prometheus configuration compose mounts passes `promtool check config` (rule files included)."""
    try:
        config = mounted_config(compose, project_dir, "prometheus", "--config.file")
    except LookupError as error:
        return [f"Cannot find the Prometheus configuration compose mounts: {error}"]
    status, output = _run([binaries.find("promtool"), "check", "config", str(config)])
    return [] if status == 0 else [f"promtool rejects {config}: {output}"]


def amtool_problems(compose, project_dir):
    """The Alertmanager configuration compose mounts passes `amtool check-config`."""
    try:
        config = mounted_config(compose, project_dir, "alertmanager", "--config.file")
    except LookupError as error:
        return [f"Cannot find the Alertmanager configuration compose mounts: {error}"]
    status, output = _run([binaries.find("amtool"), "check-config", str(config)])
    return [] if status == 0 else [f"amtool rejects {config}: {output}"]


def prometheus_drift(compose, project_dir):
    """The Prometheus config compose mounts and the one the native stack renders differ only in addresses."""
    from launcher.config import PROMETHEUS_CONFIG, address_free_prometheus, render_prometheus
    try:
        compose_config = load(mounted_config(compose, project_dir, "prometheus", "--config.file"))
    except LookupError as error:
        return [f"Cannot find the Prometheus configuration compose mounts: {error}"]
    with tempfile.TemporaryDirectory() as targets:
        native = render_prometheus(load(PROMETHEUS_CONFIG), targets, {}, fast=False)
    compose_view, native_view = address_free_prometheus(compose_config), address_free_prometheus(native)
    if compose_view == native_view:
        return []
    keys = sorted(key for key in set(compose_view) | set(native_view)
                  if compose_view.get(key) != native_view.get(key))
    return [f"The compose and native Prometheus configurations differ in more than addresses: {', '.join(keys)}."]


def _dockerfile_lines(path):
    """Instructions of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", Path(path).read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def dockerfile_problems(path):
    """The image pins its base and its last stage runs as a non-root user."""
    problems, defaults, user = [], {}, None
    for line in _dockerfile_lines(path):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and "=" in rest:
            name, _, value = rest.strip().partition("=")
            defaults[name] = value.strip("'\"")
        elif instruction == "FROM":
            reference = re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), ""),
                               [word for word in rest.split() if not word.startswith("--")][0])
            problem = image_reference_problem(reference) if reference != "scratch" else None
            if problem:
                problems.append(f"{path}: the base {problem}.")
            user = None  # USER does not carry over to a new stage
        elif instruction == "USER":
            user = rest.strip()
    if user is None:
        problems.append(f"{path}: the image runs as root (no USER in its last stage).")
    elif user.split(":")[0] in ("root", "0"):
        problems.append(f"{path}: the image runs as {user}, which is root.")
    return problems
