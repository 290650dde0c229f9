"""Info metrics the scraping worker computes at each scrape, never kept in the multiprocess files.

In gunicorn multiprocess mode every label set a worker ever wrote stays in that worker's file, and
`livemostrecent` still reports it at its last value. An info metric whose label changes (the shop's
`version` under the bad-deploy fault) would then expose its old versions too, at 0. An info metric
must expose one series, the current one, at 1: so the worker answering the scrape renders it from the
shared state itself, and nothing about it is written to a file.
"""
from collections.abc import Iterable, Sequence

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric


class _Families:
    """The smallest thing generate_latest reads: an object with collect()."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


class ScrapeTimeInfo:
    """An info-style gauge (one series, value 1) whose label values are given at each scrape."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)

    def describe(self) -> list[Metric]:
        """The family without samples (what grafana/inventory.py reads, as from prometheus_client's metrics)."""
        return [GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def exposition(self, *labelvalues: str) -> bytes:
        """The text exposition of the one current series."""
        if len(labelvalues) != len(self.labelnames):
            raise ValueError(f"{self.name} takes {len(self.labelnames)} label values "
                             f"({', '.join(self.labelnames)}), not {len(labelvalues)}.")
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        family.add_metric(list(labelvalues), 1)
        return generate_latest(_Families([family]))
