"""Static checks of docker-compose.yml, .env and our Dockerfiles (no container engine needed).

Each check passes on the repository's files and is shown to fail on a
deliberately broken copy, so a check that cannot fail would be caught here.
The real multi-container run is `make test-compose` (tests/compose/).
"""
import copy
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

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


# The programs a healthcheck may run, per image as docker-compose.yml names it, and why each is there.
# Checked against .env below, so that a new image makes someone look again.
HEALTHCHECK_PROGRAMS = {
    # Our Dockerfile, FROM the python:*-slim image: python, no curl or wget.
    "${APP_IMAGE}": {"python"},
    # The prom/* images are built FROM quay.io/prometheus/busybox: busybox's wget applet, no curl.
    "${PROMETHEUS_IMAGE}": {"wget"},
    "${ALERTMANAGER_IMAGE}": {"wget"},
    "${PUSHGATEWAY_IMAGE}": {"wget"},
    "${NODE_EXPORTER_IMAGE}": {"wget"},
    "${BLACKBOX_EXPORTER_IMAGE}": {"wget"},
    # Grafana's Dockerfile installs curl in both its Alpine and Ubuntu variants; wget only comes with
    # Alpine's busybox.
    "${GRAFANA_IMAGE}": {"curl"},
    # openzipkin/zipkin-slim, like openzipkin/zipkin, is built FROM ghcr.io/openzipkin/java (Alpine): busybox's
    # wget, which its own docker-healthcheck script calls; no curl.
    "${ZIPKIN_IMAGE}": {"wget"},
}
IMAGE_FAMILIES = {"APP_IMAGE": "instrumented-shop/", "PROMETHEUS_IMAGE": "prom/prometheus:",
                  "ALERTMANAGER_IMAGE": "prom/alertmanager:", "PUSHGATEWAY_IMAGE": "prom/pushgateway:",
                  "NODE_EXPORTER_IMAGE": "prom/node-exporter:", "BLACKBOX_EXPORTER_IMAGE": "prom/blackbox-exporter:",
                  "GRAFANA_IMAGE": "grafana/grafana:", "ZIPKIN_IMAGE": "openzipkin/zipkin-slim:"}


def test_healthcheck_programs_are_known_for_the_images_env_pins(env):
    """HEALTHCHECK_PROGRAMS describes the images .env pins (another image family needs another look)."""
    assert {f"${{{name}}}" for name in IMAGE_FAMILIES} == set(HEALTHCHECK_PROGRAMS)
    for name, family in IMAGE_FAMILIES.items():
        assert env[name].startswith(family), f"{name} is now {env[name]}: check which programs it ships."


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
    "built image pulled": (lambda c, e: checks.pull_problems(c),
                           lambda c: svc("shop")(c).pop("pull_policy")),
    "built image pulled if missing": (lambda c, e: checks.pull_problems(c),
                                      lambda c: svc("edge")(c).__setitem__("pull_policy", "missing")),
    "pushgateway without persistence": (lambda c, e: checks.pushgateway_persistence_problems(c),
                                        lambda c: svc("pushgateway")(c).pop("command")),
    "pushgateway persisting in its container": (lambda c, e: checks.pushgateway_persistence_problems(c),
                                                lambda c: svc("pushgateway")(c).pop("volumes")),
    "healthcheck with wget in Grafana": (lambda c, e: checks.healthcheck_binary_problems(c, HEALTHCHECK_PROGRAMS),
                                         lambda c: svc("grafana")(c)["healthcheck"]["test"].__setitem__(1, "wget")),
    "healthcheck with curl in Prometheus": (lambda c, e: checks.healthcheck_binary_problems(c, HEALTHCHECK_PROGRAMS),
                                            lambda c: svc("prometheus")(c)["healthcheck"]["test"].__setitem__(
                                                1, "curl")),
    "healthcheck through a shell": (lambda c, e: checks.healthcheck_binary_problems(c, HEALTHCHECK_PROGRAMS),
                                    lambda c: svc("shop")(c)["healthcheck"].__setitem__(
                                        "test", ["CMD-SHELL", "curl -f http://127.0.0.1:8000/healthz"])),
    "port on every address": (lambda c, e: checks.public_ports(c, e),
                              lambda c: svc("payments")(c).__setitem__("ports", ["8001:8001"])),
    "port on a public address": (lambda c, e: checks.public_ports(c, e),
                                 lambda c: svc("inbox")(c).__setitem__("ports", [{"target": 8002, "host_ip": "0.0.0.0",
                                                                                   "published": "8002"}])),
    "monitoring waits on the inbox": (lambda c, e: checks.monitoring_waits_on_receiver(c),
                                      lambda c: svc("alertmanager")(c)["depends_on"].__setitem__(
                                          "inbox", {"condition": "service_healthy"})),
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


# --- Secrets: each container gets only the secret it needs, readable only by its user (issue 13, item 5) ---

# The user our Python image runs as (Dockerfile: USER 10001:10001).
APP_UID = 10001
# Who needs which secret: the design docker-compose.yml must keep.
SECRET_READERS = {"fault_token": {"shop", "payments", "inbox", "loadgen"}, "webhook_token": {"inbox", "alertmanager"},
                  "grafana_admin_password": {"grafana"}}
ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"


def init_secrets(compose):
    """(name, volume, owner uid) of every secret copy the init service writes (its INIT_SECRETS lines)."""
    init = compose["services"]["init"]
    volume_at = {target: source for source, target, _ro, _kind in checks._mounts(init)}
    lines = [line.split() for line in init["environment"]["INIT_SECRETS"].splitlines() if line.strip()]
    return [(name, volume_at.get(directory), int(uid)) for name, directory, uid in lines]


def service_uid(service):
    """The uid a service runs as: its `user:`, else our image's user for our image."""
    user = str(service.get("user", ""))
    if user:
        return int(user.split(":")[0])
    return APP_UID if service.get("image") == "${APP_IMAGE}" else None


def secret_problems(compose):
    """Each secret volume is mounted read-only into exactly the services that need that secret, and the
    copy in it belongs to the user of every service that mounts it."""
    problems = []
    copies = init_secrets(compose)
    readers = {}
    for name, service in compose["services"].items():
        if name == "init":
            continue
        for source, _target, read_only, _kind in checks._mounts(service):
            for secret, volume, uid in copies:
                if source != volume:
                    continue
                readers.setdefault(secret, set()).add(name)
                if not read_only:
                    problems.append(f"Service {name} mounts the {secret} volume {volume} writable; add :ro.")
                if service_uid(service) != uid:
                    problems.append(f"The {secret} copy in {volume} belongs to uid {uid}, but {name} runs as "
                                    f"{service_uid(service)}.")
    for secret, expected in SECRET_READERS.items():
        if readers.get(secret, set()) != expected:
            problems.append(f"The {secret} secret reaches {sorted(readers.get(secret, set()))}, "
                            f"not exactly {sorted(expected)}.")
    if None in {volume for _s, volume, _u in copies}:
        problems.append("An INIT_SECRETS directory is not a volume the init service mounts.")
    return problems


SECRET_BREAKAGES = {
    "grafana gets the fault token": lambda c: svc("grafana")(c)["volumes"].append("fault-token:/fault:ro"),
    "shop gets the webhook token": lambda c: svc("shop")(c)["volumes"].append("inbox-webhook-token:/w:ro"),
    "writable secret": lambda c: svc("inbox")(c)["volumes"].__setitem__(1, "inbox-webhook-token:/secrets"),
    "wrong owner": lambda c: svc("alertmanager")(c).__setitem__("user", "10001:10001"),
    "one volume for every secret": lambda c: [svc(name)(c)["volumes"].append("fault-token:/more:ro")
                                              for name in ("inbox", "grafana", "alertmanager")],
}


@pytest.mark.parametrize("name", sorted(SECRET_BREAKAGES))
def test_each_container_gets_only_its_own_secret_readable_by_its_user(compose, name):
    assert secret_problems(compose) == []
    problems = secret_problems(broken(compose, SECRET_BREAKAGES[name]))
    assert problems and all(problem.endswith(".") for problem in problems), name


def test_init_runs_as_root_with_only_the_chown_capability(compose):
    """Handing a file to another uid takes CAP_CHOWN; nothing else is added back."""
    init = compose["services"]["init"]
    assert init["cap_drop"] == ["ALL"] and init["cap_add"] == ["CHOWN"]
    assert init["security_opt"] == ["no-new-privileges:true"]


def test_init_secrets_writes_each_copy_0400_for_its_owner_and_keeps_them(tmp_path):
    """The entrypoint's init-secrets for real (owner: this test's uid, which chown accepts unprivileged)."""
    uid = os.getuid()
    dirs = {name: tmp_path / name for name in ("fault", "inbox", "alertmanager")}
    for path in dirs.values():
        path.mkdir()
    spec = (f"fault_token {dirs['fault']} {uid}\nwebhook_token {dirs['inbox']} {uid}\n"
            f"webhook_token {dirs['alertmanager']} {uid}\n")
    env = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"], "INIT_SECRETS": spec}

    def run():
        result = subprocess.run(["sh", str(ENTRYPOINT), "init-secrets"], env=env, capture_output=True, text=True,
                                timeout=30)
        assert result.returncode == 0, result.stderr
    run()
    files = [dirs["fault"] / "fault_token", dirs["inbox"] / "webhook_token", dirs["alertmanager"] / "webhook_token"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o400 and path.stat().st_uid == uid, path
    assert files[1].read_text() == files[2].read_text() != files[0].read_text()
    assert len(files[1].read_text().strip()) >= 40
    before = [path.read_text() for path in files]
    run()
    assert [path.read_text() for path in files] == before, "a second start must keep the secrets"
    files[2].unlink()
    run()
    assert files[1].read_text() == files[2].read_text() != before[1], "a lost copy renews every copy of that secret"


def test_the_entrypoint_loads_the_webhook_token_from_its_file(tmp_path):
    token = tmp_path / "webhook_token"
    token.write_text("from-the-file\n")
    result = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", 'printf %s "$WEBHOOK_TOKEN"'],
                            env={"PATH": os.environ["PATH"], "WEBHOOK_TOKEN_FILE": str(token)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout == "from-the-file", result.stderr


# --- Links from the published ports (issue 14, part 4) ---

def published_url(component):
    """How docker-compose.yml must spell a component's public base URL: prometheus/links.py's pattern on the
    component's *_HOST_PORT variable, so a port shifted in .env or the environment moves every link."""
    from prometheus.links import PUBLIC_URL
    return PUBLIC_URL.format(port=f"${{{component.upper()}_HOST_PORT}}")


def link_problems(compose):
    """Every public address compose hands out is built from the published port."""
    from app.inbox.public_links import DOCUMENT_BASES, variable
    services = compose["services"]
    wanted = [(name, "--web.external-url", checks.flag_value(services[name], "--web.external-url"),
               published_url(name)) for name in ("prometheus", "alertmanager")]
    wanted += [("inbox", key, services["inbox"]["environment"].get(key), published_url(component))
               for component in DOCUMENT_BASES for key in [variable(component)]]
    wanted += [("loadgen", "INBOX_PUBLIC_URL", services["loadgen"]["environment"].get("INBOX_PUBLIC_URL"),
                published_url("inbox")),
               ("loadgen", "GRAFANA_URL", services["loadgen"]["environment"].get("GRAFANA_URL"),
                published_url("grafana")),
               ("grafana", "GF_SERVER_ROOT_URL", services["grafana"]["environment"].get("GF_SERVER_ROOT_URL"),
                published_url("grafana") + "/")]
    return [f"Service {name} sets {key} to {actual}, not {expected}." for name, key, actual, expected in wanted
            if actual != expected]


def test_every_public_link_follows_the_published_ports(compose):
    assert link_problems(compose) == []
    hard_coded = broken(compose, lambda c: svc("inbox")(c)["environment"].__setitem__(
        "GRAFANA_PUBLIC_URL", "http://localhost:3000"))
    assert link_problems(hard_coded) == [
        "Service inbox sets GRAFANA_PUBLIC_URL to http://localhost:3000, not http://localhost:${GRAFANA_HOST_PORT}."]


def test_the_compose_test_moves_every_published_port():
    """The compose test publishes every port on a free one of its own, never on .env's (a running stack or
    another program may hold those): its table names every *_HOST_PORT line of .env."""
    from prometheus.links import ENV_FILE
    from tests.compose.conftest import HOST_PORT_VARIABLES
    lines = set(re.findall(r"^([A-Z_]+_HOST_PORT)=", Path(ENV_FILE).read_text(), flags=re.MULTILINE))
    assert set(HOST_PORT_VARIABLES) == lines, \
        f"tests/compose/conftest.py misses {sorted(lines - set(HOST_PORT_VARIABLES))}"
