"""prometheus_client's multiprocess files, written and rendered the stock way: the reference our renderer is
compared with."""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_generate_latest
from prometheus_client.samples import Exemplar


def stock_render(path):
    """prometheus_client's collector, untouched, on a fresh registry as its docs do it: the reference."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path))
    return generate_latest(registry)


def write(path, filename, entries):
    """A file in prometheus_client's format: entries [(key parts for mmap_key, value[, timestamp])]."""
    mmapped = MmapedDict(str(path / filename))
    for key_parts, value, *timestamp in entries:
        mmapped.write_value(mmap_key(*key_parts), value, timestamp[0] if timestamp else 0.0)
    mmapped.close()


def stock_openmetrics_render(path, exemplars=None):
    """prometheus_client's OpenMetrics exposition of its stock merge, each bucket given its exemplar (if any).

    `exemplars`: {(bucket sample name, sorted label items incl. le): (value, timestamp, trace id hex)}.
    """
    exemplars = exemplars or {}

    class WithExemplars:
        def collect(self):
            for metric in MultiProcessCollector(None, path=str(path)).collect():
                samples = []
                for sample in metric.samples:
                    found = exemplars.get((sample.name, tuple(sorted(sample.labels.items()))))
                    if found is not None:
                        sample = sample._replace(exemplar=Exemplar({"trace_id": found[2]}, found[0], found[1]))
                    samples.append(sample)
                metric.samples = samples
                yield metric
    registry = CollectorRegistry()
    registry.register(WithExemplars())
    return openmetrics_generate_latest(registry)
