"""prometheus_client's multiprocess files, written and rendered the stock way: the reference our renderer is
compared with."""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector


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
