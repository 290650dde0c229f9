"""Build every image the Podman compose test needs, locally, with no registry.

1. A Debian bookworm base: `debootstrap --variant=minbase` into a cache
   directory, then `podman import`. The rootfs tarball and the image are both
   kept between runs, so only the first run pays for debootstrap.
2. A Python base on it (Debian's Python 3.11), standing in for the pinned
   upstream python image our Dockerfile defaults to.
3. Stand-ins for Prometheus, Alertmanager, Pushgateway, node-exporter and blackbox-exporter
   (deploy/podman/standins/*/Dockerfile) carrying the programs that
   launcher/upstream.py built at the versions .env pins: the same builds the
   native stack and the promtool/amtool tests run; and for Zipkin, carrying the
   server jar launcher/upstream_jar.py fetched (the one `make local` runs) on
   Debian's Java runtime.
4. Our own image, from the repository's Dockerfile on the local Python base.

Steps 2-4 are plain `podman build`s: their layer cache makes a warm run quick.
"""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from launcher import upstream, upstream_jar
from tests.helpers.paths import REPO

STANDINS_DIR = REPO / "deploy" / "podman" / "standins"

DEBIAN_IMAGE = "localhost/instrumented-shop/debian:12-minbase"
PYTHON_IMAGE = "localhost/instrumented-shop/python:3.11-bookworm"
APP_IMAGE = "localhost/instrumented-shop/app:compose-test"
# Stand-in directory -> image name; the names are the ones deploy/podman/override.yml uses.
STANDIN_IMAGES = {
    "prometheus": "localhost/instrumented-shop/prometheus:pinned",
    "alertmanager": "localhost/instrumented-shop/alertmanager:pinned",
    "pushgateway": "localhost/instrumented-shop/pushgateway:pinned",
    "node-exporter": "localhost/instrumented-shop/node-exporter:pinned",
    "blackbox-exporter": "localhost/instrumented-shop/blackbox-exporter:pinned",
    "zipkin": "localhost/instrumented-shop/zipkin:pinned",
}
# Stand-in directory -> the pinned programs its Dockerfile copies from the build context.
STANDIN_PROGRAMS = {"prometheus": ("prometheus", "promtool"), "alertmanager": ("alertmanager", "amtool"),
                    "pushgateway": ("pushgateway",), "node-exporter": ("node_exporter",),
                    "blackbox-exporter": ("blackbox_exporter",), "zipkin": ()}
# Stand-in directory -> the name its Dockerfile copies the pinned jar under (launcher/upstream_jar.py).
STANDIN_JARS = {"zipkin": "zipkin-server.jar"}
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BUILD_TIMEOUT_SECONDS = 600

# Written into the rootfs, as Debian's own container images do: package
# scripts must not try to start services during a build.
POLICY_RC_D = "#!/bin/sh\n# No init system in a container: never start services from package scripts.\nexit 101\n"


def cache_dir():
    """Where the debootstrap tarball is kept between runs: the project's cache, beside the upstream builds."""
    return upstream.cache_dir()


def run(command, timeout, env=None):
    """Run a command, raising with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed with status {result.returncode}:\n"
                           f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def debian_rootfs_tarball():
    """A minbase bookworm rootfs as a tarball, made once by debootstrap and cached."""
    tarball = cache_dir() / "debian-bookworm-minbase.tar"
    if tarball.exists():
        return tarball
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed; run deploy/container-engine.sh --check.")
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_dir()))
    try:
        rootfs = work / "rootfs"
        run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), DEBIAN_MIRROR], timeout=600)
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text(POLICY_RC_D)
        policy.chmod(0o755)
        # Downloaded packages and lists are dead weight in an image.
        leftovers = [*(rootfs / "var/cache/apt/archives").glob("*.deb"), *(rootfs / "var/lib/apt/lists").glob("*_*")]
        for leftover in leftovers:
            leftover.unlink()
        partial = work / "rootfs.tar"
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], timeout=300)
        partial.replace(tarball)  # atomic: an interrupted run leaves no half tarball behind
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tarball


def image_exists(podman, name, env=None):
    """True when the local store has the image."""
    return subprocess.run([*podman, "image", "exists", name], timeout=60, env=env).returncode == 0


def ensure_debian_base(podman, env=None):
    """Import the Debian base image unless it is already there."""
    if image_exists(podman, DEBIAN_IMAGE, env):
        return
    tarball = debian_rootfs_tarball()
    run([*podman, "import", "--change", 'CMD ["/bin/bash"]', "--change", "ENV LANG=C.UTF-8",
         str(tarball), DEBIAN_IMAGE], timeout=300, env=env)


def pip_ca_bundle():
    """The CA bundle pip trusts on this machine, for builds behind a TLS-intercepting proxy."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"),
                      "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def build(podman, tag, context, base_image=None, dockerfile=None, env=None):
    """`podman build` one image from local images only."""
    # Host networking: the build needs only the package mirrors, and the default
    # podman network cannot reach every resolver a host may use.
    command = [*podman, "build", "--pull=never", "--layers", "--network", "host", "--tag", tag]
    if base_image:
        command += ["--build-arg", f"BASE_IMAGE={base_image}"]
    if dockerfile:
        command += ["--file", str(dockerfile)]
    ca_bundle = pip_ca_bundle()
    if ca_bundle:
        command += ["--secret", f"id=pip_ca,src={ca_bundle}"]
    run(command + [str(context)], timeout=BUILD_TIMEOUT_SECONDS, env=env)


def pinned_programs():
    """{program: path} of every program a stand-in carries, built at its pinned version (first time: minutes)."""
    failures = upstream.ensure_all()
    paths = {program: upstream.installed(program) for programs in STANDIN_PROGRAMS.values() for program in programs}
    unbuilt = sorted(program for program, path in paths.items() if path is None)
    if unbuilt:
        raise RuntimeError(f"The stand-in images need {', '.join(unbuilt)} built at the versions .env pins, and "
                           f"launcher/upstream.py could not build them: {'; '.join(failures.values())}")
    return paths


def standin_context(name, programs, workdir):
    """A build context for one stand-in: its Dockerfile and the pinned programs it copies."""
    context = Path(workdir) / name
    context.mkdir()
    shutil.copy(STANDINS_DIR / name / "Dockerfile", context / "Dockerfile")
    for program in STANDIN_PROGRAMS[name]:
        shutil.copy(programs[program], context / program)
    if name in STANDIN_JARS:
        try:
            jar = upstream_jar.ensure()
        except upstream_jar.JarError as error:
            raise RuntimeError(f"The {name} stand-in needs the jar .env pins: {error}") from error
        shutil.copy(jar, context / STANDIN_JARS[name])
    return context


def build_all(podman, env=None):
    """Build every image the override file names (podman run with `env`); return seconds per step."""
    timings = {}
    started = time.monotonic()
    programs = pinned_programs()
    timings["upstream programs"] = time.monotonic() - started
    started = time.monotonic()
    ensure_debian_base(podman, env)
    timings["debian base"] = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="standins-", dir=cache_dir()) as workdir:
        steps = [("python base", PYTHON_IMAGE, STANDINS_DIR / "python", DEBIAN_IMAGE)]
        steps += [(name, image, standin_context(name, programs, workdir), DEBIAN_IMAGE)
                  for name, image in STANDIN_IMAGES.items()]
        steps.append(("app", APP_IMAGE, REPO, PYTHON_IMAGE))
        for label, image, context, base in steps:
            started = time.monotonic()
            build(podman, image, context, base_image=base, env=env)
            timings[label] = time.monotonic() - started
    return timings
