"""Static checks of docker-compose.yml, .env and our Dockerfiles (no container engine needed).

Each check passes on the repository's files and is shown to fail on a
deliberately broken copy, so a check that cannot fail would be caught here.
The real multi-container run is `make test-compose` (tests/compose/).
"""
import copy
import shutil

import pytest
import yaml

from tests.compose import images
from tests.helpers import compose_checks as checks
from tests.helpers.compose_config_checks import (
    amtool_problems,
    dockerfile_problems,
    prometheus_drift,
    promtool_problems,
    schema_errors,
)
from tests.helpers.paths import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
OVERRIDE_FILE = REPO / "deploy" / "podman" / "override.yml"
# Images that run a service. (deploy/podman/standins/python is a base image, root like
# the upstream python image it stands in for; our Dockerfile sets the user.)
STANDINS = REPO / "deploy" / "podman" / "standins"
DOCKERFILES = [REPO / "Dockerfile",
               *sorted(path for path in STANDINS.glob("*/Dockerfile") if path.parent.name != "python")]


@pytest.fixture(scope="module")
def compose():
    """The repository's compose file, parsed."""
    return checks.load(COMPOSE_FILE)


@pytest.fixture(scope="module")
def env():
    """The repository's .env."""
    return checks.read_env_file(REPO / ".env")


def broken(compose, change):
    """A deep copy of the compose file with `change(copy)` applied."""
    result = copy.deepcopy(compose)
    change(result)
    return result


def svc(name):
    """Shorthand: the function that returns service `name` of a compose dict."""
    return lambda c: c["services"][name]


# name -> (check(compose, env), change that must make it fail)
CROSS_REFERENCE_CHECKS = {
    "bind mount missing": (lambda c, e: checks.missing_bind_mounts(c, REPO),
                           lambda c: svc("prometheus")(c)["volumes"].append("./no-such-dir:/etc/extra:ro")),
    "bind mount writable": (lambda c, e: checks.writable_bind_mounts(c),
                            lambda c: svc("alertmanager")(c)["volumes"].__setitem__(
                                0, "./alertmanager:/etc/alertmanager")),
    "volume undeclared": (lambda c, e: checks.undeclared_volumes(c),
                          lambda c: c["volumes"].pop("prometheus-data")),
    "Dockerfile missing": (lambda c, e: checks.missing_dockerfiles(c, REPO),
                           lambda c: svc("shop")(c).__setitem__(
                               "build", {"context": ".", "dockerfile": "nope/Dockerfile"})),
    "dependency unknown": (lambda c, e: checks.unknown_dependencies(c),
                           lambda c: svc("shop")(c)["depends_on"].__setitem__(
                               "database", {"condition": "service_started"})),
    "healthy dependency without healthcheck": (lambda c, e: checks.unknown_dependencies(c),
                                               lambda c: svc("payments")(c).pop("healthcheck")),
    "healthcheck missing": (lambda c, e: checks.missing_healthchecks(c),
                            lambda c: svc("loadgen")(c).pop("healthcheck")),
    "variable undefined": (lambda c, e: checks.undefined_variables(c, e),
                           lambda c: svc("shop")(c)["environment"].__setitem__("EXTRA", "${NOT_IN_DOT_ENV}")),
    "image latest": (lambda c, e: checks.unpinned_images(c, e),
                     lambda c: svc("prometheus")(c).__setitem__("image", "prom/prometheus:latest")),
    "image untagged": (lambda c, e: checks.unpinned_images(c, e),
                       lambda c: svc("pushgateway")(c).__setitem__("image", "prom/pushgateway")),
    "port on every address": (lambda c, e: checks.public_ports(c, e),
                              lambda c: svc("payments")(c).__setitem__("ports", ["8001:8001"])),
    "port on a public address": (lambda c, e: checks.public_ports(c, e),
                                 lambda c: svc("inbox")(c).__setitem__("ports", [{"target": 8002, "host_ip": "0.0.0.0",
                                                                                   "published": "8002"}])),
    "memory limit missing": (lambda c, e: checks.memory_problems(c),
                             lambda c: svc("payments")(c).pop("mem_limit")),
    "memory over budget": (lambda c, e: checks.memory_problems(c),
                           lambda c: svc("prometheus")(c).__setitem__("mem_limit", "2g")),
}


@pytest.mark.parametrize("name", sorted(CROSS_REFERENCE_CHECKS))
def test_cross_reference_check_passes_and_catches_breakage(compose, env, name):
    """The check finds nothing wrong in docker-compose.yml and reports the broken copy."""
    check, change = CROSS_REFERENCE_CHECKS[name]
    assert check(compose, env) == []
    problems = check(broken(compose, change), env)
    assert problems, f"The {name!r} check did not notice the broken copy."
    assert all(problem.endswith(".") for problem in problems)


def test_env_values_are_checked_too(compose, env):
    """An image or address that is fine in the file but wrong in .env is caught."""
    assert checks.unpinned_images(compose, {**env, "GRAFANA_IMAGE": "grafana/grafana:latest"})
    assert checks.public_ports(compose, {**env, "PUBLISH_ADDRESS": "0.0.0.0"})


def test_schema_accepts_the_compose_file_and_rejects_a_broken_copy(compose, tmp_path):
    """check-jsonschema's compose-spec schema, on the real file and on one with a misspelt key."""
    assert schema_errors(COMPOSE_FILE) == []
    assert schema_errors(OVERRIDE_FILE) == []
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(yaml.safe_dump(broken(compose, lambda c: svc("shop")(c).__setitem__("helthcheck", {}))))
    assert schema_errors(bad)


def config_copy(tmp_path, folder, name, edit):
    """A copy of a config folder with one file edited; returns the folder."""
    target = tmp_path / folder
    shutil.copytree(REPO / folder, target)
    path = target / name
    path.write_text(edit(path.read_text()))
    return target


def remount(compose, service, folder, target):
    """The compose file with the service's config folder mounted from `folder` instead."""
    def change(c):
        mounts = svc(service)(c)["volumes"]
        index = next(i for i, m in enumerate(mounts) if isinstance(m, str) and m.split(":")[1] == target)
        mounts[index] = f"{folder}:{target}:ro"
    return broken(compose, change)


def test_promtool_accepts_the_mounted_prometheus_config_and_rejects_a_broken_one(compose, tmp_path):
    """promtool check config (rule files included) on the folder compose mounts."""
    assert promtool_problems(compose, REPO) == []
    folder = config_copy(tmp_path, "prometheus", "prometheus.yml", lambda text: text + "\nnot_a_prometheus_key: 1\n")
    assert promtool_problems(remount(compose, "prometheus", folder, "/etc/prometheus"), REPO)


def test_amtool_accepts_the_mounted_alertmanager_config_and_rejects_a_broken_one(compose, tmp_path):
    """amtool check-config on the folder compose mounts."""
    assert amtool_problems(compose, REPO) == []
    folder = config_copy(tmp_path, "alertmanager", "alertmanager.yml",
                         lambda text: text.replace("receiver: inbox-critical", "receiver: nobody-listens"))
    assert amtool_problems(remount(compose, "alertmanager", folder, "/etc/alertmanager"), REPO)


def test_compose_and_native_prometheus_configs_differ_only_in_addresses(compose, tmp_path):
    """The native launcher's rendering keeps everything but the addresses; a changed copy is caught."""
    assert prometheus_drift(compose, REPO) == []
    folder = config_copy(tmp_path, "prometheus", "prometheus.yml",
                         lambda text: text.replace("evaluation_interval: 5s", "evaluation_interval: 7s"))
    problems = prometheus_drift(remount(compose, "prometheus", folder, "/etc/prometheus"), REPO)
    assert problems and "global" in problems[0]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(REPO)))
def test_dockerfile_pins_its_base_and_runs_as_non_root(dockerfile):
    """Every Dockerfile of ours: pinned FROM (via its ARG default) and a non-root USER."""
    assert dockerfile_problems(dockerfile) == []


@pytest.mark.parametrize("text", [
    "FROM python:3.11.15-slim-bookworm\nRUN true\n",                       # no USER: root
    "FROM python:3.11.15-slim-bookworm\nUSER root\n",                      # explicitly root
    "ARG BASE_IMAGE=python:latest\nFROM ${BASE_IMAGE}\nUSER 10001\n",      # unpinned base
    "FROM python\nUSER 10001\n",                                           # untagged base
    "FROM python:3.11.15-slim-bookworm AS build\nUSER 10001\nFROM debian:12\nRUN true\n",  # last stage root
])
def test_dockerfile_check_catches_root_and_unpinned_bases(tmp_path, text):
    """Broken Dockerfiles are reported."""
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    assert dockerfile_problems(path)


def test_override_names_the_images_the_compose_test_builds(compose):
    """The test-only override maps every upstream image to a stand-in the compose test builds."""
    override = checks.load(OVERRIDE_FILE)
    built = {images.APP_IMAGE, *images.STANDIN_IMAGES.values()}
    for name in compose["services"]:
        replaced = override["services"].get(name, {})
        if name == "grafana":
            assert replaced.get("profiles"), "Grafana has no stand-in; the override must leave it out."
            continue
        assert replaced.get("image") in built, f"The override gives {name} no locally built image."
        assert replaced.get("pull_policy") == "never"
