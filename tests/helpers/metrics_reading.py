"""Read metric values: from this process's registry (unit tests) or from a /metrics page (integration)."""
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families


def sample(name, **labels):
    """A sample's current value in this process (0 when it does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(url):
    """Every sample of a /metrics page as {(name, frozenset(labels.items())): value}."""
    text = requests.get(url + "/metrics", timeout=10).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name, **labels):
    """One sample from a scrape (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum of every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))
