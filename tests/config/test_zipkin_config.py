"""The trace backend's configuration, without starting it: the pin, the native command line, the compose service.

Zipkin runs with the same bounded JVM natively (launcher/zipkin.py) and under compose (docker-compose.yml), on
loopback natively and published on PUBLISH_ADDRESS under compose; tests/process/test_zipkin.py runs it for real.
"""
import hashlib

import pytest

from app.common import tracing
from launcher import components, config, upstream, upstream_jar, zipkin
from launcher.stack import Stack
from tests.helpers import compose_checks as checks
from tests.helpers.paths import REPO

# JVM options that bound Zipkin's memory; the native stack's footprint goal (bench part 4) depends on them.
MEMORY_OPTIONS = ("-Xmx48m", "-Xmn6m", "-XX:+UseSerialGC", "-XX:MaxMetaspaceSize=64m", "-XX:ReservedCodeCacheSize=16m",
                  "-XX:TieredStopAtLevel=1", "-Xss256k")


@pytest.fixture(scope="module")
def compose():
    return checks.load(REPO / "docker-compose.yml")


def test_env_pins_an_exact_zipkin_release_with_a_pinned_checksum():
    version = upstream_jar.pinned_version()
    assert upstream.env_values()["ZIPKIN_IMAGE"] == f"openzipkin/zipkin-slim:{version}"
    assert len(upstream_jar.SHA256.get(version, "")) == 64, f"launcher/upstream_jar.py pins no sha256 for {version}."


@pytest.mark.parametrize("image", ["openzipkin/zipkin:latest", "openzipkin/zipkin", "openzipkin/zipkin:3.6"])
def test_a_floating_zipkin_pin_is_refused(tmp_path, image):
    env_file = tmp_path / ".env"
    env_file.write_text(f"ZIPKIN_IMAGE={image}\n")
    with pytest.raises(upstream_jar.JarError, match="ZIPKIN_IMAGE"):
        upstream_jar.pinned_version(env_file)


def test_a_download_with_another_checksum_is_refused_and_leaves_nothing(tmp_path):
    source = tmp_path / "served.jar"
    source.write_bytes(b"not zipkin")
    target = tmp_path / "jars" / "zipkin-server-3.6.1-exec.jar"
    target.parent.mkdir()
    with pytest.raises(upstream_jar.JarError, match="not the pinned"):
        upstream_jar.download("3.6.1", target, url=source.as_uri())
    assert list(target.parent.iterdir()) == [], "a refused download must leave no file behind"


def test_a_download_with_the_pinned_checksum_is_kept(tmp_path, monkeypatch):
    source = tmp_path / "served.jar"
    source.write_bytes(b"stand-in content")
    monkeypatch.setitem(upstream_jar.SHA256, "0.0.1", hashlib.sha256(b"stand-in content").hexdigest())
    target = tmp_path / "zipkin-server-0.0.1-exec.jar"
    assert upstream_jar.download("0.0.1", target, url=source.as_uri()).read_bytes() == b"stand-in content"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["served.jar", target.name])


def test_a_version_without_a_pinned_checksum_is_not_downloaded(tmp_path):
    with pytest.raises(upstream_jar.JarError, match="No sha256 is pinned"):
        upstream_jar.download("0.0.0", tmp_path / "x.jar", url=(tmp_path / "nothing").as_uri())


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """The native stack's Zipkin component and the stack (nothing started)."""
    if upstream_jar.installed() is None:
        pytest.fail("Zipkin's jar is not in the cache: run `make os-deps`.")
    stack = Stack(str(tmp_path_factory.mktemp("stack")), fast=True)
    return components.build("zipkin", stack), stack


def test_native_zipkin_listens_on_loopback_only_on_its_port(native):
    component, stack = native
    arguments = component.command
    assert "--armeria.ports[0].ip=127.0.0.1" in arguments
    assert f"--armeria.ports[0].port={stack.port('zipkin')}" in arguments
    assert component.health_path == "/health"


def test_native_zipkin_runs_the_pinned_jar_with_bounded_memory(native):
    component, _stack = native
    assert component.command[component.command.index("-jar") + 1] == str(upstream_jar.installed())
    missing = [option for option in MEMORY_OPTIONS if option not in component.command]
    assert not missing, f"Zipkin's command line lacks {missing}."
    assert component.env["MEM_MAX_SPANS"] == str(zipkin.MEM_MAX_SPANS) and component.env["STORAGE_TYPE"] == "mem"


def test_traced_services_learn_where_to_send_spans(native):
    _component, stack = native
    for name in components.TRACED:
        endpoint = components.build(name, stack).env.get(components.TRACES_VARIABLE)
        assert endpoint == f"http://127.0.0.1:{stack.port('zipkin')}/api/v2/spans", name
    assert components.TRACES_VARIABLE not in components.build("inbox", stack).env


def test_compose_zipkin_is_hardened_like_the_other_services(compose):
    service = compose["services"]["zipkin"]
    assert service["image"] == "${ZIPKIN_IMAGE}"
    assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]
    assert service["cap_drop"] == ["ALL"] and "cap_add" not in service
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert str(service.get("user", "root")).split(":")[0] not in ("root", "0"), "Zipkin must not run as root."
    assert service["ports"] == ["${PUBLISH_ADDRESS}:${ZIPKIN_HOST_PORT}:9411"]
    assert service["healthcheck"]["test"][-1] == "http://127.0.0.1:9411/health"
    assert checks.memory_limit(service) is not None


def test_compose_zipkin_runs_the_native_jvm_options_and_span_bound(compose):
    environment = compose["services"]["zipkin"]["environment"]
    assert environment["JAVA_OPTS"].split() == list(zipkin.JAVA_OPTIONS)
    assert environment["MEM_MAX_SPANS"] == str(zipkin.MEM_MAX_SPANS) and environment["STORAGE_TYPE"] == "mem"


def test_compose_traced_services_send_spans_to_zipkin(compose):
    """The same services as natively (their compose names are the component names) send to Zipkin's name."""
    assert config.COMPOSE_SERVICES["zipkin"] == "zipkin"
    for service in components.TRACED:
        endpoint = compose["services"][service]["environment"].get(components.TRACES_VARIABLE)
        assert endpoint == "http://zipkin:9411/api/v2/spans", f"{service} does not send its spans to Zipkin."


def test_the_load_generator_samples_alike_natively_and_under_compose(native, compose):
    """The demo's traces start at the load generator, which keeps one journey in five in both stacks (Zipkin's
    in-memory store then holds minutes of them); the variable is the one app/common/tracing.py reads."""
    _component, stack = native
    assert components.SAMPLE_RATIO_VARIABLE == tracing.RATIO_VARIABLE
    native_ratio = components.build("loadgen", stack).env[tracing.RATIO_VARIABLE]
    assert 0 < float(native_ratio) < 1
    assert tracing.sample_ratio({tracing.RATIO_VARIABLE: native_ratio}) == float(native_ratio)
    assert compose["services"]["loadgen"]["environment"][tracing.RATIO_VARIABLE] == native_ratio
    for service in ("shop", "payments"):  # a person's own request is always traced
        assert tracing.RATIO_VARIABLE not in components.build(service, stack).env
        assert tracing.RATIO_VARIABLE not in compose["services"][service]["environment"]
