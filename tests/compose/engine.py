"""Drive one compose project with Docker (real images) or Podman (local stand-ins).

Both engines offer the same small interface to the tests: start the stack,
find a service's containers, run its healthcheck, exec in it, restart it,
and tear everything down, then prove nothing the project created is left.

Podman 4.3 runs no healthcheck by itself and podman-compose ignores
`condition: service_healthy`, so PodmanEngine starts services one at a time in
dependency order and honours each `depends_on` condition of docker-compose.yml
itself (`podman healthcheck run`, exit codes of one-shot services).
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from processes.waiting import poll_until
from tests.compose import images
from tests.helpers import compose_checks as checks
from tests.helpers.paths import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
OVERRIDE_FILE = REPO / "deploy" / "podman" / "override.yml"
CONTAINERS_CONF = REPO / "deploy" / "podman" / "containers.conf"
COMMAND_TIMEOUT_SECONDS = 300
HEALTHY_TIMEOUT_SECONDS = 180
# Labels both compose implementations put on what they create.
PROJECT_LABELS = ("com.docker.compose.project", "io.podman.compose.project")


def start_order(compose, active):
    """The active services in an order where every dependency comes first."""
    remaining = {name: set(checks.dependencies(compose["services"][name])) & set(active) for name in active}
    order = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            raise ValueError(f"depends_on has a cycle among {sorted(remaining)}.")
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


class Engine:
    """What the tests need from a container engine; subclasses fill in the commands."""

    name = "?"

    def __init__(self, project, env):
        self.project = project
        self.env = {**os.environ, **env}
        self.compose = checks.load(COMPOSE_FILE)

    def run(self, argv, timeout=COMMAND_TIMEOUT_SECONDS, check=True):
        """Run an engine command; raise with its output when `check` and it fails."""
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed with status {result.returncode}:\n"
                               f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def compose_command(self, *args):
        """The engine's compose command for this project."""
        raise NotImplementedError

    def containers(self, service):
        """Names of the running containers of a service."""
        result = self.run([*self.engine, "ps", "--filter", f"label={PROJECT_LABELS[0]}={self.project}",
                           "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}"])
        return sorted(result.stdout.split())

    def container(self, service):
        """The one container of a service (the first replica)."""
        names = self.containers(service)
        if not names:
            raise LookupError(f"Service {service} has no running container.")
        return names[0]

    def exec(self, container, argv, timeout=120):
        """Run a command inside a running container."""
        return self.run([*self.engine, "exec", container, *argv], timeout=timeout, check=False)

    def restart(self, service):
        """Restart a service's containers (their volumes stay)."""
        self.run(self.compose_command("restart", service))

    def logs(self, service, tail=40):
        """The last log lines of a service, for failure messages."""
        return self.run(self.compose_command("logs", "--tail", str(tail), service), check=False).stdout

    def leftovers(self):
        """Containers, volumes and networks of the project that still exist."""
        found = []
        for kind in ("container", "volume", "network"):
            for label in PROJECT_LABELS:
                listing = [*self.engine, kind, "ls", "--filter", f"label={label}={self.project}", "--quiet"]
                if kind == "container":
                    listing = [*self.engine, "ps", "--all", "--filter", f"label={label}={self.project}", "--quiet"]
                found += [(kind, name) for name in self.run(listing, check=False).stdout.split()]
        return sorted(set(found))

    def remove(self, kind, name):
        """Force-remove one leftover object."""
        command = {"container": ["rm", "--force", "--volumes"], "volume": ["volume", "rm", "--force"],
                   "network": ["network", "rm", "--force"]}[kind]
        self.run([*self.engine, *command, name], check=False)

    def down(self):
        """Remove everything the project created; return what had to be removed by force."""
        self.run(self.compose_command("down", "--volumes", "--remove-orphans"), check=False)
        stragglers = self.leftovers()
        for kind, name in stragglers:
            self.remove(kind, name)
        return stragglers


class DockerEngine(Engine):
    """Docker Engine with the compose plugin and the real pinned images (Grafana included)."""

    name = "docker"
    engine = ["docker"]

    def compose_command(self, *args):
        """`docker compose` for this project."""
        return ["docker", "compose", "--project-name", self.project, "--file", str(COMPOSE_FILE), *args]

    def active_services(self):
        """Every service of the compose file."""
        return list(self.compose["services"])

    def build_and_up(self):
        """Build, start, and wait until every healthcheck passes (Docker honours the conditions)."""
        self.run(self.compose_command("up", "--detach", "--build", "--wait", "--wait-timeout", "600"), timeout=900)

    def scale(self, service, replicas):
        """Run `replicas` containers of a service."""
        self.run(self.compose_command("up", "--detach", "--no-deps", "--wait", "--scale",
                                      f"{service}={replicas}", service), timeout=600)

    def healthcheck(self, container):
        """True when Docker's own healthcheck reports the container healthy."""
        result = self.run(["docker", "inspect", "--format", "{{json .State.Health}}", container], check=False)
        return result.returncode == 0 and json.loads(result.stdout or "null") is not None and \
            json.loads(result.stdout)["Status"] == "healthy"

    @staticmethod
    def available():
        """True when a Docker engine answers and the compose plugin exists."""
        if shutil.which("docker") is None:
            return False
        probes = (["docker", "info"], ["docker", "compose", "version"])
        return all(subprocess.run(p, capture_output=True, timeout=30).returncode == 0 for p in probes)


class PodmanEngine(Engine):
    """Podman + podman-compose with stand-in images built locally (Grafana left out)."""

    name = "podman"
    engine = ["podman"]

    def __init__(self, project, env):
        super().__init__(project, {**env, "CONTAINERS_CONF": str(CONTAINERS_CONF)})
        self.override = checks.load(OVERRIDE_FILE)
        self.podman_compose = str(Path(sys.executable).with_name("podman-compose"))

    def compose_command(self, *args):
        """`podman-compose` for this project with the stand-in override."""
        return [self.podman_compose, "--project-name", self.project, "--file", str(COMPOSE_FILE),
                "--file", str(OVERRIDE_FILE), *args]

    def active_services(self):
        """Every service the override does not put in a profile (i.e. all but Grafana)."""
        return [name for name in self.compose["services"]
                if not self.override["services"].get(name, {}).get("profiles")]

    def build_and_up(self):
        """Build the local images, then start each service once its dependencies meet their conditions."""
        timings = images.build_all(self.engine, self.env)
        for service in start_order(self.compose, self.active_services()):
            for dependency, condition in checks.dependencies(self.compose["services"][service]).items():
                self.wait_for(dependency, condition)
            self.run(self.compose_command("up", "--detach", "--no-deps", service))
        return timings

    def wait_for(self, service, condition):
        """Block until a dependency meets its depends_on condition."""
        if condition == "service_completed_successfully":
            poll_until(lambda: self.exit_code(service) is not None, f"{service} to finish", HEALTHY_TIMEOUT_SECONDS)
            code = self.exit_code(service)
            if code != 0:
                raise RuntimeError(f"{service} exited with status {code}:\n{self.logs(service)}")
        elif condition == "service_healthy":
            for container in self.containers(service):
                poll_until(lambda c=container: self.healthcheck(c), f"{container}'s healthcheck to pass",
                           HEALTHY_TIMEOUT_SECONDS, interval=1.0)

    def scale(self, service, replicas):
        """Run `replicas` containers of a service and wait for their healthchecks."""
        self.run(self.compose_command("up", "--detach", "--no-deps", "--scale", f"{service}={replicas}", service))
        self.wait_for(service, "service_healthy")

    def exit_code(self, service):
        """The exit status of a one-shot service's container, or None while it runs."""
        name = f"{self.project}_{service}_1"
        state = json.loads(self.run(["podman", "inspect", "--format", "{{json .State}}", name]).stdout)
        return state["ExitCode"] if state["Status"] in ("exited", "stopped") else None

    def healthcheck(self, container):
        """Run the container's declared healthcheck once; True when it passes."""
        return self.run(["podman", "healthcheck", "run", container], timeout=60, check=False).returncode == 0

    @staticmethod
    def available():
        """True when podman and podman-compose can be run."""
        return shutil.which("podman") is not None and \
            Path(sys.executable).with_name("podman-compose").exists()


def pick_engine(project, env):
    """Docker when its engine works, else Podman; None when neither is usable."""
    for engine in (DockerEngine, PodmanEngine):
        if engine.available():
            return engine(project, env)
    return None
