"""The upstream Prometheus programs at exactly the versions .env pins, built from their Go modules and cached.

.env pins one image per upstream program (`PROMETHEUS_IMAGE=prom/prometheus:v3.16.0`, ...): that line is the
version everywhere. `python3 -m launcher.upstream` builds each program from the Go module of that release (Prometheus
3.x.y is the module version v0.3xx.y), with the version stamped in as upstream's release builds do, into a cache
outside the repository (`<cache>/bin/<program>-<version>`), and only when it is missing there. The native stack, the
promtool/amtool tests and the Podman stand-in images all run these files (`launcher/binaries.py` prefers them).

Every module is built the same way, in a writable copy of the module (not `go install module@version`): Alertmanager's
module cannot build as published (its web UI directory, embedded with go:embed, is not in the module), and Prometheus
embeds a web UI that has to be built inside its tree first (`launcher/upstream_ui.py`).

Standard library only: `launcher/os-deps.sh` runs it before .venv exists. Usage:
    python3 -m launcher.upstream             build what is missing; print what was built or found, and how long it took
    python3 -m launcher.upstream --missing   print the programs with no pinned build (os-deps.sh installs those)
"""
import fcntl
import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from launcher import upstream_ui

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
BUILD_TIMEOUT_SECONDS = 3600
_IMAGE_TAG = re.compile(r"^[^:@\s]+:(v\d+\.\d+\.\d+)$")


@dataclass(frozen=True)
class Upstream:
    """One upstream Go module and the programs we build from it."""
    name: str
    env_key: str  # the .env line that pins its image, hence its version
    module: str
    programs: dict  # program -> package inside the module
    tags: tuple = ("netgo",)  # upstream's release build tags (.promu.yml); netgo: no cgo resolver, a static binary
    prepare: object = field(default=None, compare=False)  # prepare(source, cache, run) -> problem or None

    def module_version(self, version):
        """The Go module version of a release: Prometheus 3.16.0 is published as v0.316.0."""
        if self.name != "prometheus":
            return version
        major, minor, patch = (int(part) for part in version.lstrip("v").split("."))
        return f"v0.{major * 100 + minor}.{patch}" if major >= 3 else version


UPSTREAMS = (
    Upstream("prometheus", "PROMETHEUS_IMAGE", "github.com/prometheus/prometheus",
             {"prometheus": "./cmd/prometheus", "promtool": "./cmd/promtool"},
             ("netgo", "builtinassets"), upstream_ui.prometheus),
    Upstream("alertmanager", "ALERTMANAGER_IMAGE", "github.com/prometheus/alertmanager",
             {"alertmanager": "./cmd/alertmanager", "amtool": "./cmd/amtool"}, prepare=upstream_ui.alertmanager),
    Upstream("pushgateway", "PUSHGATEWAY_IMAGE", "github.com/prometheus/pushgateway", {"pushgateway": "."}),
    Upstream("node_exporter", "NODE_EXPORTER_IMAGE", "github.com/prometheus/node_exporter", {"node_exporter": "."}),
    Upstream("blackbox_exporter", "BLACKBOX_EXPORTER_IMAGE", "github.com/prometheus/blackbox_exporter",
             {"blackbox_exporter": "."}),
)
UPSTREAM_OF = {program: upstream for upstream in UPSTREAMS for program in upstream.programs}


class UpstreamError(RuntimeError):
    """A pinned program cannot be built; the message says which module and why."""


def cache_dir():
    """The machine's cache for this project (also the compose test's): outside the repository, kept between runs."""
    configured = os.environ.get("INSTRUMENTED_SHOP_CACHE")
    if configured:
        path = Path(configured)
    elif os.geteuid() == 0:
        path = Path("/var/cache/instrumented-shop")
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "instrumented-shop"
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_values(env_file=ENV_FILE):
    """{key: value} of the settings lines of .env (comments skipped)."""
    values = {}
    for line in Path(env_file).read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    return values


def pinned_versions(env_file=ENV_FILE):
    """{upstream name: "v3.16.0"} from the image lines of .env."""
    values = env_values(env_file)
    versions = {}
    for upstream in UPSTREAMS:
        match = _IMAGE_TAG.match(values.get(upstream.env_key, ""))
        if not match:
            raise UpstreamError(f"{env_file} must pin {upstream.env_key} to an exact release (image:vX.Y.Z); "
                                f"it has {values.get(upstream.env_key)!r}.")
        versions[upstream.name] = match.group(1)
    return versions


def binary_path(program, version, cache=None):
    """Where the build of `program` at `version` lives."""
    return (cache or cache_dir()) / "bin" / f"{program}-{version}"


def installed(program, env_file=ENV_FILE):
    """The cached build of `program` at its pinned version, or None (not an upstream program, or not built)."""
    upstream = UPSTREAM_OF.get(program)
    if upstream is None:
        return None
    path = binary_path(program, pinned_versions(env_file)[upstream.name])
    return path if os.access(path, os.X_OK) else None


def find_go():
    """The go command: on PATH, or where the official tarball and Debian's golang packages put it."""
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise UpstreamError("The go command is not installed (looked on PATH, in /usr/local/go/bin and /usr/lib/go/bin). "
                        "Install Go 1.26 or newer, or put its bin directory on PATH.")


def go_env(cache):
    """The environment of every go command here: caches outside the repository, static binaries, no workspace."""
    return {**os.environ, "GOMODCACHE": str(cache / "go" / "mod"), "GOCACHE": str(cache / "go" / "build"),
            "GOWORK": "off", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}


def run(command, cwd=None, env=None, timeout=BUILD_TIMEOUT_SECONDS):
    """Run a command; UpstreamError with the end of its output when it fails."""
    try:
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UpstreamError(f"`{' '.join(map(str, command))}` took longer than {timeout} s.")
    if result.returncode != 0:
        # pnpm's progress lines would push the error itself out of the message
        output = [line for line in (result.stdout + result.stderr).strip().splitlines()
                  if not line.startswith("Progress:")]
        raise UpstreamError(f"`{' '.join(map(str, command))}` failed (exit {result.returncode}):\n  "
                            + "\n  ".join(output[-15:]))
    return result.stdout


def _make_writable(tree):
    """Give the owner write access to everything in a tree (the module cache's copies are read-only)."""
    os.chmod(tree, os.stat(tree).st_mode | 0o200)
    for root, dirs, files in os.walk(tree):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o200)


def remove_tree(tree):
    """Delete a build directory, also one that an interrupted copy left read-only."""
    if os.path.lexists(tree):
        _make_writable(tree)
        shutil.rmtree(tree)


def writable_copy(module_dir, destination):
    """A fresh copy of a module from the read-only module cache, to build inside."""
    remove_tree(destination)
    shutil.copytree(module_dir, destination, symlinks=True)
    _make_writable(destination)


def ldflags(version):
    """The version stamp of upstream's release builds (.promu.yml), so `--version` prints the pinned release."""
    stamp = {"Version": version.lstrip("v"), "Revision": "unknown", "Branch": "HEAD",
             "BuildUser": f"{getpass.getuser()}@{socket.gethostname()}",
             "BuildDate": time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())}
    return " ".join(f"-X github.com/prometheus/common/version.{key}={value}" for key, value in stamp.items())


def download(go, env, module, module_version):
    """The module's directory in the module cache, downloaded from the Go module proxy if need be."""
    result = subprocess.run([go, "mod", "download", "-json", f"{module}@{module_version}"], env=env,
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS)
    try:
        info = json.loads(result.stdout)
    except ValueError:
        info = {"Error": (result.stdout + result.stderr).strip()}
    if result.returncode != 0 or not info.get("Dir"):
        raise UpstreamError(f"the Go module proxy did not give {module}@{module_version}: "
                            f"{info.get('Error', 'no directory')}")
    return info["Dir"]


def build(upstream, version, cache, out=None):
    """Build every program of one module at one version into the cache; return notes about the build."""
    out = out or sys.stdout
    go = find_go()
    env = go_env(cache)
    module_version = upstream.module_version(version)
    source = cache / "src" / f"{upstream.name}-{version}"
    writable_copy(download(go, env, upstream.module, module_version), source)
    notes = {"module": f"{upstream.module}@{module_version}", "tags": list(upstream.tags)}
    if upstream.prepare:
        started = time.monotonic()
        print(f"upstream:   {upstream.name}: its web UI ...", file=out, flush=True)
        problem = upstream.prepare(source, cache, run)
        notes["web_ui_seconds"] = round(time.monotonic() - started)
        if problem:
            notes["web_ui"] = problem
    for program, package in upstream.programs.items():
        target = binary_path(program, version, cache)
        partial = target.with_name(target.name + ".partial")
        print(f"upstream:   go build {program} ...", file=out, flush=True)
        run([go, "build", "-trimpath", "-tags", ",".join(notes["tags"]), "-ldflags", ldflags(version),
             "-o", str(partial), package], cwd=source, env=env)
        partial.replace(target)  # atomic: a cut build leaves nothing that looks finished
        target.with_name(target.name + ".json").write_text(json.dumps(notes, indent=1) + "\n")
    remove_tree(source)
    return notes


def ensure_all(env_file=ENV_FILE, out=None):
    """Build every pinned program that is missing; return {upstream name: problem} for those that failed."""
    out = out or sys.stdout
    cache = cache_dir()
    (cache / "bin").mkdir(exist_ok=True)
    versions = pinned_versions(env_file)
    failures = {}
    with open(cache / "bin" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two `make` runs at once: the second waits, then finds the builds
        for upstream in UPSTREAMS:
            version = versions[upstream.name]
            programs = ", ".join(upstream.programs)
            if all(os.access(binary_path(p, version, cache), os.X_OK) for p in upstream.programs):
                print(f"upstream: found {programs} {version} in {cache / 'bin'}", file=out)
                continue
            started = time.monotonic()
            print(f"upstream: building {programs} {version} from its Go module (first time only) ...", file=out,
                  flush=True)
            try:
                notes = build(upstream, version, cache, out)
            except (UpstreamError, OSError, ValueError, subprocess.SubprocessError) as error:
                failures[upstream.name] = f"{upstream.module} {version}: {error}"
                continue
            ui = f" (web UI step: {notes['web_ui_seconds']} s)" if "web_ui_seconds" in notes else ""
            print(f"upstream: built {programs} {version} in {time.monotonic() - started:.0f} s{ui}", file=out)
            if notes.get("web_ui"):
                print(f"upstream: WARNING: {upstream.name} has no web UI: {notes['web_ui']}", file=out)
    return failures


def missing(env_file=ENV_FILE):
    """The programs that have no build at their pinned version."""
    return [program for program in UPSTREAM_OF if installed(program, env_file) is None]


def main(argv=None):
    """Build (default) or list the programs without a pinned build (--missing)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--missing"]):
        print(__doc__, file=sys.stderr)
        return 64
    started = time.monotonic()
    try:
        if argv:
            for program in missing():
                print(program)
            return 0
        failures = ensure_all()
    except UpstreamError as error:  # .env itself is wrong: nothing can be built or trusted
        print(f"upstream: {error}", file=sys.stderr)
        return 1
    for name, problem in failures.items():
        print(f"\n{'!' * 78}\nupstream: COULD NOT BUILD {name}: {problem}\n"
              f"upstream: falling back to the OS package of {name} (not the version .env pins): the version "
              f"test fails until this builds.\n{'!' * 78}", file=sys.stderr)
    print(f"upstream: done in {time.monotonic() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
