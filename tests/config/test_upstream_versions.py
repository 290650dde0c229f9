"""The upstream programs the native stack and the tests run are the releases .env pins (launcher/upstream.py).

.env's image lines are the one source of the versions; compose runs those images, `make local` and the
promtool/amtool tests run the builds of the same tags. tests/compose checks the stand-in images the same way.
"""
import subprocess

import pytest

from launcher import binaries, components, upstream
from launcher.stack import Stack
from tests.helpers.upstream_versions import pinned, reported

# Programs `make local` starts (launcher/components.py builds their command lines).
STACK_PROGRAMS = ("prometheus", "alertmanager", "pushgateway", "node_exporter")


def version_of(path):
    """(program, version) that `<path> --version` prints."""
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{path} --version failed: {result.stdout}{result.stderr}"
    return reported(result.stdout + result.stderr)


@pytest.mark.parametrize("program", STACK_PROGRAMS)
def test_make_local_runs_the_pinned_release(tmp_path, program):
    """The program in the native stack's command line prints exactly the version .env pins."""
    stack = Stack(str(tmp_path), fast=True)
    stack.render_configs()
    path = components.build(program, stack).command[0]
    assert version_of(path) == (program, pinned(program)), (
        f"{path} is not the {program} release .env pins; run `make os-deps` (launcher/upstream.py builds it).")


@pytest.mark.parametrize("program", sorted(set(upstream.UPSTREAM_OF) - set(STACK_PROGRAMS)))
def test_tools_and_exporters_are_the_pinned_release(program):
    """promtool, amtool and blackbox_exporter, as the tests find them, print exactly the version .env pins."""
    path = binaries.find(program)
    assert version_of(path) == (program, pinned(program)), (
        f"{path} is not the {program} release .env pins; run `make os-deps` (launcher/upstream.py builds it).")


def test_every_upstream_module_is_pinned_in_env():
    """Each module the builder knows has its image line in .env, pinned to an exact release."""
    versions = upstream.pinned_versions()
    assert set(versions) == {u.name for u in upstream.UPSTREAMS}
    assert upstream.UPSTREAM_OF["prometheus"].module_version(versions["prometheus"]).startswith("v0.3")


@pytest.mark.parametrize("tag, module_version", [("v3.16.0", "v0.316.0"), ("v3.5.1", "v0.305.1"),
                                                 ("v2.53.0", "v2.53.0")])
def test_prometheus_releases_map_to_their_module_versions(tag, module_version):
    """Prometheus 3.x.y is published to the Go module proxy as v0.3xx.y."""
    assert upstream.UPSTREAM_OF["prometheus"].module_version(tag) == module_version


def test_a_missing_or_floating_pin_is_refused(tmp_path):
    """An image line without an exact vX.Y.Z tag stops the build with a message naming the line."""
    env_file = tmp_path / ".env"
    lines = [f"{u.env_key}=example/{u.name}:v1.2.3" for u in upstream.UPSTREAMS]
    env_file.write_text("\n".join(lines).replace(":v1.2.3", ":latest", 1) + "\n")
    with pytest.raises(upstream.UpstreamError, match="PROMETHEUS_IMAGE"):
        upstream.pinned_versions(env_file)
