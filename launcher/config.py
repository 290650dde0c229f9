"""Render the compose configuration files for the native stack.

One set of files serves both ways of running. The compose files name services
(`http://inbox:8002`, dns_sd for `shop`); the native stack only swaps those
addresses for local ones (file_sd target files, 127.0.0.1 URLs) and, in fast
mode for tests, shortens intervals. Rule files and dashboards are the same
sources, rendered with the links of the ports the native stack listens on
(runbook_url, dashboard links: prometheus/links.py) instead of the published
ports of .env that the committed files carry.
"""
import copy
import json
import os
import re

import yaml

from grafana import generate as grafana_generate
from prometheus import generate as prometheus_generate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMETHEUS_CONFIG = os.path.join(REPO, "prometheus", "prometheus.yml")
ALERTMANAGER_CONFIG = os.path.join(REPO, "alertmanager", "alertmanager.yml")
GRAFANA_PROVISIONING = os.path.join(REPO, "grafana", "provisioning")
SD_KEYS = ("static_configs", "dns_sd_configs", "file_sd_configs")
# Compose service name -> native component name (they differ only where compose uses a dash).
COMPOSE_SERVICES = {"shop": "shop", "payments": "payments", "inbox": "inbox", "loadgen": "loadgen",
                    "prometheus": "prometheus", "alertmanager": "alertmanager", "pushgateway": "pushgateway",
                    "node-exporter": "node_exporter", "grafana": "grafana", "blackbox-exporter": "blackbox_exporter",
                    "zipkin": "zipkin",
                    # The front door: compose's edge spreads customers over the shop replicas; natively the one
                    # shop is its own front door.
                    "edge": "shop"}
FAST = {"scrape_interval": "1s", "evaluation_interval": "1s", "group_wait": "1s", "group_interval": "2s"}
_COMPOSE_URL = re.compile(r"http://([a-z][a-z-]*):(\d+)")


def load_yaml(path):
    """Parse a YAML file."""
    with open(path) as source:
        return yaml.safe_load(source)


def address_free_prometheus(config):
    """The Prometheus configuration with every address removed: what must match between the two ways of running."""
    config = copy.deepcopy(config)
    for scrape in config.get("scrape_configs", []):
        for key in SD_KEYS:
            scrape.pop(key, None)
        for relabel in _address_relabels(scrape):
            relabel.pop("replacement", None)
    for alertmanagers in config.get("alerting", {}).get("alertmanagers", []):
        for key in SD_KEYS:
            alertmanagers.pop(key, None)
    config["rule_files"] = [os.path.basename(path) for path in config.get("rule_files", [])]
    return config


def _address_relabels(scrape):
    """The relabel rules of a job that set the scrape address (a probe job's: the exporter's address)."""
    return [relabel for relabel in scrape.get("relabel_configs", []) if relabel.get("target_label") == "__address__"]


def _static_targets(scrape):
    return [target for group in scrape.get("static_configs", []) for target in group.get("targets", [])]


def render_prometheus(config, targets_dir, addresses, fast, urls=None):
    """The native Prometheus config: file_sd for every job, absolute rule paths, fast intervals in tests.

    `addresses` maps a job name to a list of host:port targets; a job with no
    running component gets an empty target file. A probe job (its targets are
    URLs, its relabelling sends the scrape to an exporter) probes the local
    URLs of the same services (`urls`: component -> base URL of the running
    ones), through the local exporter, when the exporter and they run.
    """
    config = copy.deepcopy(config)
    os.makedirs(targets_dir, exist_ok=True)
    # Compose address -> local address, of every job with one target and one running component.
    local_address = {}
    for scrape in config.get("scrape_configs", []):
        written, running = _static_targets(scrape), addresses.get(scrape["job_name"], [])
        if len(written) == 1 and len(running) == 1:
            local_address[written[0]] = running[0]
    addresses = dict(addresses)
    for scrape in config.get("scrape_configs", []):
        relabels = _address_relabels(scrape)
        if not relabels:
            continue
        exporters = [relabel.get("replacement") for relabel in relabels]
        targets = [replace_compose_urls(target, urls or {}) for target in _static_targets(scrape)]
        if all(exporter in local_address for exporter in exporters) \
                and not any(_COMPOSE_URL.match(target) for target in targets):
            for relabel in relabels:
                relabel["replacement"] = local_address[relabel["replacement"]]
            addresses[scrape["job_name"]] = targets
        else:  # the exporter or a probed service does not run here: nothing to probe
            addresses.pop(scrape["job_name"], None)

    def file_sd(name, targets):
        path = os.path.join(targets_dir, f"{name}.json")
        with open(path, "w") as out:
            json.dump([{"targets": targets, "labels": {}}] if targets else [], out)
        return [{"files": [path]}]

    for scrape in config.get("scrape_configs", []):
        for key in SD_KEYS:
            scrape.pop(key, None)
        scrape["file_sd_configs"] = file_sd(scrape["job_name"], addresses.get(scrape["job_name"], []))
        if fast and not _address_relabels(scrape):  # a probe's timeout is how long a customer waits: kept
            scrape.pop("scrape_interval", None)
            scrape.pop("scrape_timeout", None)
    for index, alertmanagers in enumerate(config.get("alerting", {}).get("alertmanagers", [])):
        for key in SD_KEYS:
            alertmanagers.pop(key, None)
        alertmanagers["file_sd_configs"] = file_sd(f"alertmanager-{index}", addresses.get("alertmanager", []))
    base = os.path.dirname(PROMETHEUS_CONFIG)
    config["rule_files"] = [path if os.path.isabs(path) else os.path.join(base, path)
                            for path in config.get("rule_files", [])]
    if fast:
        config.setdefault("global", {}).update(scrape_interval=FAST["scrape_interval"], scrape_timeout="1s",
                                               evaluation_interval=FAST["evaluation_interval"])
    return config


def replace_compose_urls(text, urls):
    """Swap compose URLs (http://inbox:8002) for local ones; `urls` maps component -> base URL."""
    def local(match):
        component = COMPOSE_SERVICES.get(match.group(1))
        return urls.get(component, match.group(0)) if component else match.group(0)
    return _COMPOSE_URL.sub(local, text)


def render_alertmanager(config_text, urls, fast, webhook_token_file=None):
    """The native Alertmanager config: local receiver URLs, the stack's webhook token file, short timers in tests."""
    config = yaml.safe_load(replace_compose_urls(config_text, urls))
    if webhook_token_file is not None:
        for receiver in config.get("receivers", []):
            for hook in receiver.get("webhook_configs", []):
                authorization = hook.get("http_config", {}).get("authorization")
                if authorization is not None:
                    authorization["credentials_file"] = webhook_token_file
    if fast:
        def shorten(route):
            for key in ("group_wait", "group_interval"):
                if key in route or route is config["route"]:
                    route[key] = FAST[key]
            for child in route.get("routes", []):
                shorten(child)
        shorten(config["route"])
    return config


def render_rule_files(rule_files, rules_dir, site):
    """The rule files to load: generated ones rendered into rules_dir with `site`'s links, the others as they are."""
    generated = prometheus_generate.rule_files(site)
    os.makedirs(rules_dir, exist_ok=True)
    paths = []
    for path in rule_files:
        name = os.path.basename(path)
        if name in generated:
            path = os.path.join(rules_dir, name)
            with open(path, "w") as out:
                out.write(generated[name])
        paths.append(path)
    return paths


def render_dashboards(target_dir, site):
    """Write every dashboard, its links pointing at `site`, into target_dir; returns it."""
    return str(grafana_generate.write(target_dir, grafana_generate.render(site)))


def render_grafana_provisioning(target_dir, urls, dashboards_dir):
    """Copy Grafana's provisioning files with the local Prometheus URL and the rendered dashboards' path."""
    for root, _dirs, files in os.walk(GRAFANA_PROVISIONING):
        for name in files:
            source = os.path.join(root, name)
            destination = os.path.join(target_dir, os.path.relpath(source, GRAFANA_PROVISIONING))
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            with open(source) as original:
                text = replace_compose_urls(original.read(), urls)
            text = text.replace("/etc/grafana/dashboards", dashboards_dir)
            with open(destination, "w") as out:
                out.write(text)
    return target_dir


def write_yaml(path, data):
    """Write data as YAML."""
    with open(path, "w") as out:
        yaml.safe_dump(data, out, sort_keys=False)
    return path
