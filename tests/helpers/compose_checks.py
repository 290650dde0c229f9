"""Checks of docker-compose.yml that the compose-spec schema cannot make.

Each check takes a compose file's parsed content (and, where it needs them,
the project directory and the variables of .env) and returns a list of
problems, one whole sentence each; an empty list means the check passed.
tests/test_compose_static.py runs them on the repository's file and on
deliberately broken copies.
"""
import re
from pathlib import Path

import yaml

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $VAR; $$ escapes a dollar.
VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:[:]?[-?+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")
LOOPBACK = "127.0.0.1"
MEMORY_UNITS = {"b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}
# The whole stack's limits (one shop replica): 1.75 GiB, most of it Grafana's documented 512 MB minimum and
# the trace backend's JVM (224 MiB).
# README.md states the budget and the sum (tests/config/test_readme.py holds them together).
MEMORY_BUDGET_BYTES = 1792 * 2**20


def load(path):
    """Parse a compose (or any YAML) file."""
    return yaml.safe_load(Path(path).read_text())


def read_env_file(path):
    """The KEY=VALUE lines of a .env file."""
    values = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def interpolate(text, env):
    """Replace ${VAR} and ${VAR:-default} the way compose does (unknown variables become empty)."""
    def value(match):
        name = match.group(1) or match.group(2)
        default = re.match(r"\$\{[^:?+}-]*:?-([^}]*)\}", match.group(0))
        return env.get(name) or (default.group(1) if default else "")
    return VARIABLE.sub(value, str(text)).replace("$$", "$")


def services(compose):
    """The services mapping (empty if absent)."""
    return compose.get("services") or {}


def strings(node):
    """Every string in a parsed YAML document (keys and values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)
    elif isinstance(node, str):
        yield node


def undefined_variables(compose, env):
    """Every variable the compose file uses is defined in .env."""
    used = {match.group(1) or match.group(2) for text in strings(compose) for match in VARIABLE.finditer(text)}
    return [f"The compose file uses ${{{name}}} but .env does not define it." for name in sorted(used - set(env))]


def _mounts(service):
    """(source, target, read_only, type) of each volume entry, short or long syntax."""
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            parts = entry.split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
            options = parts[2].split(",") if len(parts) > 2 else []
            kind = "bind" if source and source.startswith((".", "/", "~")) else "volume"
            yield source, target, "ro" in options, kind
        else:
            yield entry.get("source"), entry.get("target"), bool(entry.get("read_only")), entry.get("type", "volume")


def missing_bind_mounts(compose, project_dir):
    """Every bind-mounted path exists in the project."""
    return [f"Service {name} bind-mounts {source}, which does not exist."
            for name, service in services(compose).items()
            for source, _target, _ro, kind in _mounts(service)
            if kind == "bind" and not (Path(project_dir) / source).exists()]


def writable_bind_mounts(compose):
    """Configuration folders are mounted read-only."""
    return [f"Service {name} mounts {source} writable; add :ro."
            for name, service in services(compose).items()
            for source, _target, read_only, kind in _mounts(service)
            if kind == "bind" and not read_only]


def undeclared_volumes(compose):
    """Every named volume a service mounts is declared under the top-level `volumes`."""
    declared = set(compose.get("volumes") or {})
    return [f"Service {name} mounts volume {source}, which is not declared under volumes." for name, service in
            services(compose).items() for source, _t, _r, kind in _mounts(service)
            if kind == "volume" and source and source not in declared]


def missing_dockerfiles(compose, project_dir):
    """Every build context exists and holds its Dockerfile."""
    problems = []
    for name, service in services(compose).items():
        build = service.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = Path(project_dir) / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if not dockerfile.is_file():
            problems.append(f"Service {name} builds from {dockerfile}, which does not exist.")
    return problems


def dependencies(service):
    """{dependency: condition} from either depends_on syntax."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return {name: "service_started" for name in depends_on}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()}


def unknown_dependencies(compose):
    """Every depends_on target is a service; a service_healthy target has a healthcheck."""
    problems = []
    for name, service in services(compose).items():
        for target, condition in dependencies(service).items():
            if target not in services(compose):
                problems.append(f"Service {name} depends on {target}, which is not a service.")
            elif condition == "service_healthy" and "healthcheck" not in services(compose)[target]:
                problems.append(f"Service {name} waits for {target} to be healthy, but {target} has no healthcheck.")
    return problems


def waits_on(compose, name):
    """Every service `name` waits for before it starts, directly or through its dependencies."""
    seen, todo = set(), [name]
    while todo:
        for dependency in dependencies(services(compose).get(todo.pop(), {})):
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


# The monitoring plane, and the demo receiver it must never wait for: with the inbox unhealthy, Prometheus
# still scrapes and alerts, Grafana still shows, Alertmanager still routes (and retries the webhook).
MONITORING_PLANE = ("prometheus", "alertmanager", "grafana")
DEMO_RECEIVER = "inbox"


def monitoring_waits_on_receiver(compose):
    """A sentence for each monitoring service whose start waits (directly or not) on the alert inbox."""
    return [f"{name} waits for the {DEMO_RECEIVER} (through depends_on), so an unhealthy demo receiver would keep "
            "the monitoring from starting; drop that dependency."
            for name in MONITORING_PLANE if DEMO_RECEIVER in waits_on(compose, name)]


def one_shot(compose, name):
    """True for a run-to-completion service (restart "no", awaited with service_completed_successfully)."""
    awaited = any(dependencies(service).get(name) == "service_completed_successfully"
                  for service in services(compose).values())
    return awaited and str(services(compose)[name].get("restart", "no")) == "no"


def missing_healthchecks(compose):
    """Every long-running service declares a healthcheck."""
    return [f"Service {name} has no healthcheck." for name, service in services(compose).items()
            if "healthcheck" not in service and not one_shot(compose, name)]


def image_reference_problem(reference):
    """Why an image reference is not pinned to an exact version, or None if it is."""
    if "@sha256:" in reference:
        return None
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return f"image {reference} has no tag"
    if tag == "latest" or not re.search(r"\d", tag):
        return f"image {reference} is not pinned to a version"
    return None


def unpinned_images(compose, env):
    """Every image is pinned to an exact version (no `latest`, no bare name)."""
    problems = []
    for name, service in services(compose).items():
        if "image" not in service:
            if "build" not in service:
                problems.append(f"Service {name} has neither an image nor a build.")
            continue
        problem = image_reference_problem(interpolate(service["image"], env))
        if problem:
            problems.append(f"Service {name}: {problem}.")
    return problems


def pull_problems(compose):
    """A service that builds its image never pulls it: `pull_policy: build`. Without it `docker compose up` first
    tries to pull the image's name from a public registry, and never rebuilds a stale local tag."""
    return [f"Service {name} builds {service['image']} but its pull_policy is {service.get('pull_policy', 'missing')}"
            f", not build: compose would pull that name from a registry." for name, service in services(compose).items()
            if "build" in service and "image" in service and service.get("pull_policy") != "build"]


def _ports(service, env):
    """(host_ip, published) of each published port, short or long syntax."""
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            yield interpolate(entry.get("host_ip", ""), env), interpolate(entry.get("published", ""), env)
            continue
        parts = interpolate(entry, env).rsplit(":", 2)
        yield (parts[0] if len(parts) == 3 else ""), (parts[-2] if len(parts) >= 2 else "")


def public_ports(compose, env):
    """Published ports listen on 127.0.0.1 only."""
    return [f"Service {name} publishes port {published or '(random)'} on "
            f"{host_ip or 'every address'}, not {LOOPBACK}."
            for name, service in services(compose).items()
            for host_ip, published in _ports(service, env) if host_ip != LOOPBACK]


def memory_bytes(text):
    """Bytes in a compose memory size like 128m or 1g."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in MEMORY_UNITS:
        raise ValueError(f"{text!r} is not a memory size like 128m.")
    return int(float(match.group(1)) * MEMORY_UNITS[match.group(2).lower()])


def memory_limit(service):
    """A service's memory limit as written (mem_limit or deploy.resources.limits.memory), or None."""
    return service.get("mem_limit") or \
        (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")


def memory_total(compose):
    """Bytes the long-running services' limits add up to (one-shot services are gone before the rest start)."""
    return sum(memory_bytes(memory_limit(service)) for name, service in services(compose).items()
               if memory_limit(service) is not None and not one_shot(compose, name))


def memory_problems(compose, budget=MEMORY_BUDGET_BYTES):
    """Every service has a memory limit, and the long-running ones add up to the budget at most."""
    problems = [f"Service {name} has no memory limit." for name, service in services(compose).items()
                if memory_limit(service) is None]
    total = memory_total(compose)
    if total > budget:
        problems.append(f"The services' memory limits add up to {total // 2**20} MiB, "
                        f"over the {budget // 2**20} MiB budget.")
    return problems


def mounted_host_path(compose, project_dir, service_name, container_path):
    """The host file behind a path inside a service's container, through its bind mounts."""
    for source, target, _ro, kind in _mounts(services(compose)[service_name]):
        if kind == "bind" and (container_path == target or container_path.startswith(target.rstrip("/") + "/")):
            return Path(project_dir) / source / Path(container_path).relative_to(target)
    raise LookupError(f"Service {service_name} mounts nothing at {container_path}.")


def flag_value(service, flag):
    """The value of a --flag=value argument in a service's command."""
    for argument in service.get("command") or []:
        if str(argument).startswith(flag + "="):
            return str(argument).split("=", 1)[1]
    raise LookupError(f"The command has no {flag}.")


def pushgateway_persistence_problems(compose):
    """The Pushgateway keeps its pushed groups in a file on a named volume, so a restart keeps them."""
    service = services(compose).get("pushgateway") or {}
    try:
        path = flag_value(service, "--persistence.file")
    except LookupError:
        return ["The pushgateway service has no --persistence.file: a restart loses every pushed group."]
    volumes = [target for _source, target, read_only, kind in _mounts(service) if kind == "volume" and not read_only]
    if not path or not any(path.startswith(target.rstrip("/") + "/") for target in volumes):
        return [f"The Pushgateway's persistence file {path or '(empty)'} is not on a writable named volume."]
    return []


def healthcheck_binary_problems(compose, shipped):
    """Each healthcheck runs a program its image ships: `shipped` maps an image reference (as written in the
    compose file, e.g. ${GRAFANA_IMAGE}) to the programs it has. A missing program fails every check, so
    the container never turns healthy and whatever waits on it never starts."""
    problems = []
    for name, service in services(compose).items():
        test = (service.get("healthcheck") or {}).get("test")
        if test is None:
            continue
        if not isinstance(test, list) or test[0] != "CMD":
            problems.append(f"Service {name}'s healthcheck is not an exec form [\"CMD\", program, ...].")
            continue
        image = service.get("image", "?")
        if test[1] not in shipped.get(image, set()):
            problems.append(f"Service {name}'s healthcheck runs {test[1]}, which {image} does not ship "
                            f"(known: {', '.join(sorted(shipped.get(image, set()))) or 'nothing'}).")
    return problems
