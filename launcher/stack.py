"""The native stack: start every component as a local process, wait until it is
healthy, and stop all of them by process id, whatever happens.

Used by `make local` (default ports, demo intervals) and by the tests
(`fast=True`: free ports, 1 s scrape and evaluation, short Alertmanager timers;
the rule files and dashboards are the same, rendered with the stack's own links).
"""
import contextlib
import os
import secrets
import shlex
import tempfile

import requests

from app.common import dashboard_links
from launcher import binaries, components, config, preflight
from loadgen.config import URL_VARIABLES
from loadgen.process_control import CONTROL_DIR_VARIABLE
from processes.managed import ManagedProcess, stop_all
from processes.ports import free_port
from processes.waiting import poll_until
from prometheus.links import Links

START_TIMEOUT_SECONDS = 60
REPO = config.REPO


class StackError(RuntimeError):
    """A component failed to start."""


class Stack:
    """A set of running components on 127.0.0.1."""

    def __init__(self, workdir=None, services=None, fast=True, env=None, loadgen_rate=None,
                 reconcile_interval=None, fixed_ports=False, cancel=None, hold_downs=False):
        self.workdir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="shop-stack-"))
        wanted = set(services) if services is not None else set(components.ORDER)
        if "grafana" in wanted and binaries.optional("grafana") is None:
            wanted.discard("grafana")  # no Grafana server on this machine; everything else runs
        self.services = [name for name in components.ORDER if name in wanted]
        self.fast = fast
        self.env = dict(env or {})
        self.fault_token = self.env.get("FAULT_TOKEN") or os.environ.get("FAULT_TOKEN") or secrets.token_urlsafe(24)
        self.grafana_admin_password = os.environ.get("GRAFANA_ADMIN_PASSWORD") or secrets.token_urlsafe(16)
        # Alertmanager's bearer token for the inbox's /webhook, like the fault token: given, or generated.
        self.webhook_token = self.env.get("WEBHOOK_TOKEN") or os.environ.get("WEBHOOK_TOKEN") or \
            secrets.token_urlsafe(24)
        self.webhook_token_file = os.path.join(self.workdir, "secrets", "webhook_token")
        self.loadgen_rate = loadgen_rate if loadgen_rate is not None else float(
            os.environ.get("LOADGEN_RATE", "5"))
        self.reconcile_interval = reconcile_interval or (10 if fast else 60)
        self._ports = {}
        for name in components.DEFAULT_PORTS:
            if fixed_ports:
                self._ports[name] = int(os.environ.get(components.PORT_VARIABLES[name], components.DEFAULT_PORTS[name]))
            else:
                self._ports[name] = free_port()
        # Where a browser reaches this stack: every link in its rule files and dashboards is rendered from it.
        self.links = Links(self._ports)
        self.textfile_dir = os.path.join(self.workdir, "textfile")
        self.rules_dir = os.path.join(self.workdir, "rules")
        self.grafana_dashboards = os.path.join(self.workdir, "dashboards")
        self.prometheus_config = os.path.join(self.workdir, "prometheus.yml")
        self.alertmanager_config = os.path.join(self.workdir, "alertmanager.yml")
        self.grafana_provisioning = os.path.join(self.workdir, "grafana-provisioning")
        self.processes = {}
        # Where scenarios ask for a component to be held down (launcher/hold_downs.py): only a stack whose owner
        # watches it (the launcher's loop) offers it, so a scenario elsewhere is refused instead of ignored.
        self.control_dir = os.path.join(self.workdir, "control") if hold_downs else None
        # Called in every wait of the start-up: raising there abandons it (the launcher's stop signals).
        self.cancel = cancel or (lambda: None)
        self.lock = None

    def port(self, name):
        """The port a component listens on."""
        return self._ports[name]

    def url(self, name):
        """The base URL of a component."""
        return f"http://127.0.0.1:{self._ports[name]}"

    def urls(self):
        """Base URLs of the running components (and of everything with a port)."""
        return {name: self.url(name) for name in self._ports}

    def service_env(self):
        """The environment every child gets: where the others are, and the shared fault token."""
        env = dict(os.environ)
        env.update({f"{name.upper()}_URL": url for name, url in self.urls().items()})
        env.update({"FAULT_TOKEN": self.fault_token, "PYTHONPATH": REPO, "PYTHONUNBUFFERED": "1",
                    "BIND_HOST": "127.0.0.1"})
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        env.pop(CONTROL_DIR_VARIABLE, None)  # another stack's, inherited: never ours to write to
        if self.control_dir is not None:
            env[CONTROL_DIR_VARIABLE] = self.control_dir
        env.update(self.env)
        return env

    def render_configs(self):
        """Write the native Prometheus, Alertmanager and Grafana configs, rules and dashboards into the work dir."""
        os.makedirs(self.textfile_dir, exist_ok=True)
        addresses = {job: [f"127.0.0.1:{self.port(component)}"]
                     for job, component in components.JOBS.items() if component in self.services}
        prometheus = config.render_prometheus(config.load_yaml(config.PROMETHEUS_CONFIG),
                                              os.path.join(self.workdir, "targets"), addresses, self.fast,
                                              urls={name: url for name, url in self.urls().items()
                                                    if name in self.services})
        prometheus["rule_files"] = config.render_rule_files(prometheus["rule_files"], self.rules_dir, self.links)
        config.write_yaml(self.prometheus_config, prometheus)
        write_secret(self.webhook_token_file, self.webhook_token)
        with open(config.ALERTMANAGER_CONFIG) as source:
            alertmanager = config.render_alertmanager(source.read(), self.urls(), self.fast, self.webhook_token_file)
        config.write_yaml(self.alertmanager_config, alertmanager)
        config.render_dashboards(self.grafana_dashboards, self.links)
        if os.path.isdir(config.GRAFANA_PROVISIONING):
            config.render_grafana_provisioning(self.grafana_provisioning, self.urls(), self.grafana_dashboards)

    def listening_ports(self):
        """{component: port} of the components of this stack that listen."""
        return {name: self._ports[name] for name in self.services if name in self._ports}

    def claim(self):
        """Take the work directory and check every port before anything starts (Busy says what is in the way)."""
        if self.lock is not None:
            return self
        self.lock = preflight.WorkdirLock(self.workdir).acquire()
        try:
            preflight.check_ports(self.listening_ports(), components.PORT_VARIABLES)
        except BaseException:
            self.stop()
            raise
        return self

    def start(self):
        """Claim the work directory and ports, start every component in order and wait until each is
        healthy; stop all on failure."""
        self.claim()
        try:
            os.makedirs(os.path.join(self.workdir, "logs"), exist_ok=True)
            self.prepare_control_dir()
            self.render_configs()
            for name in self.services:
                self.cancel()
                self.start_component(name)
            if "prometheus" in self.services:
                self.wait_for_targets()
        except BaseException:
            self.stop()
            raise
        return self

    def prepare_control_dir(self):
        """Create the control directory (this user only: its files stop components) and drop the requests a
        previous launch left behind (it may have been killed mid-scenario)."""
        if self.control_dir is None:
            return
        os.makedirs(self.control_dir, mode=0o700, exist_ok=True)
        os.chmod(self.control_dir, 0o700)
        for name in os.listdir(self.control_dir):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.control_dir, name))

    def start_component(self, name):
        """Start one component and wait for its health check."""
        component = components.build(name, self)
        env = self.service_env()
        env.update(component.env)
        process = ManagedProcess(name, component.command, env,
                                 os.path.join(self.workdir, "logs", f"{name}.log"), cwd=REPO).start()
        self.processes[name] = process
        if self.lock is not None:
            self.lock.record(self.listening_ports(), {n: p.pid for n, p in self.processes.items()})
        if component.health_path is None:
            poll_until(lambda: self.cancel() or process.running(), f"{name} to keep running", 2)
            return process

        def healthy():
            self.cancel()
            if not process.running():
                raise StackError(f"{name} exited with code {process.process.returncode}:\n{process.log_tail()}")
            return requests.get(self.url(name) + component.health_path, timeout=1).ok
        try:
            poll_until(healthy, f"{name} to answer {component.health_path}", START_TIMEOUT_SECONDS)
        except AssertionError as error:
            raise StackError(f"{error}\nLog of {name}:\n{process.log_tail()}") from error
        return process

    def stop_component(self, name):
        """Stop one component (its whole process group, by id) and forget it: it is not running, not dead."""
        self.processes.pop(name).stop()
        if self.lock is not None:
            self.lock.record(self.listening_ports(), {n: p.pid for n, p in self.processes.items()})

    def restart(self, name):
        """Stop one component and start it again (its data directory is kept)."""
        self.processes.pop(name).stop()
        return self.start_component(name)

    def wait_for_targets(self, timeout=START_TIMEOUT_SECONDS):
        """Wait until Prometheus scrapes every target successfully and has found Alertmanager."""
        prometheus = self.url("prometheus")

        def all_up():
            self.cancel()
            self.raise_if_exited()
            targets = requests.get(prometheus + "/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
            down = [f"{t['labels']['job']} ({t['health']}: {t['lastError']})" for t in targets if t["health"] != "up"]
            if down:
                raise StackError("targets not up: " + ", ".join(down))
            return len(targets) >= len([j for j, c in components.JOBS.items() if c in self.services])
        poll_until(all_up, "every Prometheus target to be up", timeout)
        if "alertmanager" in self.services:
            poll_until(lambda: self.cancel() or requests.get(prometheus + "/api/v1/alertmanagers", timeout=2)
                       .json()["data"]["activeAlertmanagers"], "Prometheus to discover Alertmanager", timeout)

    def raise_if_exited(self):
        """A component that exited after its health check (a gunicorn master whose worker failed to boot, say) is
        named with its exit code and log, not reported as its target's "connection refused"."""
        for name, process in self.processes.items():
            if not process.running():
                raise StackError(f"{name} exited with code {process.process.returncode} after it started:\n"
                                 f"{process.log_tail()}")

    def stop(self):
        """Stop every started component, all at once (bounded time), and release the work directory."""
        stop_all(list(self.processes.values()))
        self.processes.clear()
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *_exc):
        self.stop()
        return False

    def describe(self):
        """A table of URLs for people."""
        lines = [f"  {name:<18} {self.url(name)}{components.UI_PATHS.get(name, '')}" for name in self.services
                 if name in self._ports]
        return "\n".join(lines)

    def cli_exports(self):
        """`export` lines that point `loadgen` (trigger, clear, drill) in another shell at this stack: its ports may
        not be the defaults, and without the token it cannot switch faults."""
        urls = " ".join(f"{variable}={shlex.quote(self.url(name))}" for name, variable in URL_VARIABLES.items()
                        if name in self._ports)
        lines = [f"export {urls}", f"export FAULT_TOKEN={shlex.quote(self.fault_token)}",
                 f"export {dashboard_links.VARIABLE}={components.dashboard_target(self)}"]
        if self.control_dir is not None:  # shop-down without a running load generator writes here
            lines.append(f"export {CONTROL_DIR_VARIABLE}={shlex.quote(self.control_dir)}")
        return lines


def write_secret(path, value):
    """Write a secret readable by this user only (Alertmanager reads the webhook token from a file)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value)
