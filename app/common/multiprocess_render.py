"""A faster `/metrics` for multiprocess mode: the same bytes as stock prometheus_client, cached.

This is an optimisation, not the lesson. The documented way (a fresh
CollectorRegistry with a MultiProcessCollector per scrape, `render_stock` in
multiprocess_metrics.py) is what to copy first; reach for this only when the
scrape cost matters (here: the scrape goal of `make bench`, at most 25 ms median and
p99 on a busy 2-core machine, which the stock path missed at ~9 ms median render time).
It reads prometheus_client's own file format, which is not a public API: the
version is pinned, and tests/process/test_metrics_render_equivalence.py compares its
output byte for byte with the stock path, so an upgrade that changes the
format fails the tests instead of the scrape.

How it works.

Stock MultiProcessCollector + generate_latest, on every scrape, for every entry of every file
(~2,200 entries for the shop's 4 workers): decodes the key, json-parses it, sorts its labels,
builds Sample tuples and dicts, then formats and escapes every label again. Profiled, that is
nearly all of a scrape, and nearly all of it is the same work as last scrape, because:

* a file is append-only (prometheus_client's MmapedDict never moves or removes an entry), so
  its layout (which key sits where) only changes when a process creates a new series;
* a key's meaning (metric, sample name, labels) and its exposition text `name{labels} ` never
  change.

So we compile each file's layout once into a `struct.Struct` that reads every (key, value,
timestamp) of the file in one C call, check on every scrape that the keys read are still the
ones we compiled (a new series, or a new process reusing a dead one's pid, is simply a
different layout), and keep only the arithmetic and the joining of lines per scrape.

The merge rules, the order of families and samples, and the number formatting are the stock
ones. Anything the common case does not cover (metric names that need escaping, a metric in
two kinds of files, a gauge file named without a pid, ...) raises `Unusual` and the caller
renders the scrape the stock way. A file too short to hold its header (a worker that is just
creating it) is skipped, by both paths: it holds no sample yet, and the stock reader would fail.

Where we differ from stock on purpose: sums are exact. Stock adds the files' values in the
order it finds the files, so a float total (a histogram's `_sum`, a counter of dollars)
depends on that order, and on which dead workers were folded into the archive: compacting
one turned 0.6000000000000001 into 0.6, a decrease Prometheus reads as a counter reset. Here
every summed sample (counters, summaries, histogram sums, buckets and counts, sum gauges) is
`math.fsum` of every contribution, the correctly rounded exact sum, a function of the multiset
of values only; with the archive keeping the dead workers' exact sum
(multiprocess_metrics.compact_dead_worker), no total ever goes down across compaction. Where a
float sum does not round (integer counts, values with few binary digits: nearly every sample)
the two are the same number, so the body is byte-identical to stock:
tests/process/test_metrics_render_equivalence.py compares the bytes on such data, and on
arbitrary floats compares everything but the last digits of sums, which it checks against
`math.fsum` instead; tests/unit/test_multiprocess_exact_sums.py checks, with hypothesis, that
no total decreases whatever the compaction order. (Infinities, NaN and overflow have no exact
sum: those sums are the stock ones.)
"""
import functools
import glob
import json
import math
import mmap
import os
import struct
import threading

from prometheus_client.openmetrics.exposition import escape_label_name, escape_metric_name
from prometheus_client.utils import floatToGoString

from app.common import exemplar_files


class Unusual(Exception):
    """Something the fast path does not handle: render this scrape the stock way."""


# The stock merge rule for each gauge multiprocess_mode; every other type sums, and gauge modes
# not listed (all, liveall) keep one sample per process, labelled with its pid.
_GAUGE_RULES = {"min": "min", "livemin": "min", "max": "max", "livemax": "max",
                "sum": "sum", "livesum": "sum", "mostrecent": "mostrecent", "livemostrecent": "mostrecent"}
_TYPES = ("counter", "gauge", "histogram", "summary")
_unpack_integer = struct.Struct("i").unpack_from
HEADER_SIZE = 8  # a file starts with its used size (4 bytes) and 4 bytes of padding
_layouts = {}  # file path -> _Layout of its last scrape (dropped when the file goes)
LAYOUTS_LOCK = threading.Lock()  # one fast render at a time per process (threaded servers)


@functools.lru_cache(maxsize=16384)
def _parse_key(key):
    """A key as the stock collector reads it: (metric name, sample name, sorted labels, help)."""
    metric_name, name, labels, help_text = json.loads(key)
    return metric_name, name, tuple(sorted(labels.items())), help_text


@functools.lru_cache(maxsize=16384)
def _line_prefix(name, labels):
    """`name{label="value",...} `, formatted exactly as generate_latest does (labels sorted by name)."""
    if escape_metric_name(name) != name or any(escape_label_name(k) != k for k, _ in labels):
        # Escaped names could collide (two series, one text): let the stock code decide.
        raise Unusual(name)
    if not labels:
        return name + " "
    # Label values are escaped as generate_latest does: backslash, newline, double quote.
    text = ",".join('{}="{}"'.format(k, v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"'))
                    for k, v in sorted(labels))
    return f"{name}{{{text}}} "


@functools.lru_cache(maxsize=1024)
def _header(metric_name, help_text, typ):
    """The # HELP and # TYPE lines of a family (counters get `_total`, as in generate_latest)."""
    name = metric_name + "_total" if typ == "counter" else metric_name
    if escape_metric_name(name) != name:
        raise Unusual(name)
    help_text = help_text.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {typ}\n"


def _plan(key, typ, mode, pid):
    """What merging one entry of a file of this kind needs, precomputed (a tuple, unpacked per entry).

    (metric name, help, group, line prefix, bucket): `group` is the stock collector's grouping of
    samples by labels (it fixes the order of the lines). For a histogram bucket, `bucket` is
    (le as a float, the bucket's line prefix) and the line prefix is that of the group's `_count`;
    for anything else `bucket` is None.
    """
    # Codec names are case-insensitive: "UTF-8" is an equivalent mutant.
    metric_name, name, labels, help_text = _parse_key(key.decode("utf-8"))  # pragma: no mutate
    if any(not isinstance(v, str) for _, v in labels) or name in {
            metric_name + "_created", metric_name + "_gsum", metric_name + "_gcount"}:
        raise Unusual(name)  # generate_latest moves these to families of their own
    if typ == "gauge":
        if any(k == "pid" for k, _ in labels):
            raise Unusual(name)  # the stock collector would drop or clash with this label
        if mode not in _GAUGE_RULES:  # one sample per process
            labels = labels + (("pid", pid),)
    elif typ == "histogram":
        le = [v for k, v in labels if k == "le"]
        if le:
            bound = float(le[0])
            if bound != bound:
                raise Unusual(name)  # a NaN bound does not sort
            group = tuple(item for item in labels if item[0] != "le")
            prefix = _line_prefix(metric_name + "_bucket", group + (("le", floatToGoString(bound)),))
            return metric_name, help_text, group, _line_prefix(metric_name + "_count", group), (bound, prefix)
    return metric_name, help_text, labels, _line_prefix(name, labels), None


class _Layout:
    """A file's entries as of one scrape: the struct that reads them, the keys it must find, the plans."""

    __slots__ = ("used", "struct", "lengths", "keys", "plans")

    def __init__(self, data, used, typ, mode, pid):
        # The stock reader's walk (prometheus_client.mmap_dict._read_all_values), done once.
        fields, lengths, keys, plans, pos = ["=8x"], [], [], [], 8
        while pos < used:
            length = _unpack_integer(data, pos)[0]
            if length + pos > used:
                raise RuntimeError("Read beyond file size detected, file is corrupted.")
            # (length - 4) % 8 is the same residue (they differ by 8): equivalent mutant.
            padding = 8 - (length + 4) % 8  # pragma: no mutate
            key = data[pos + 4:pos + 4 + length]
            fields.append(f"i{length}s{padding}xdd")  # length, key, padding, value, timestamp
            lengths.append(length)
            keys.append(key)
            plans.append(_plan(key, typ, mode, pid))
            pos += 4 + length + padding + 16
        self.used, self.struct = used, struct.Struct("".join(fields))
        self.lengths, self.keys, self.plans = tuple(lengths), tuple(keys), plans

    def read(self, data: bytes) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(values, timestamps) from the file's bytes, or None if its keys are not the compiled ones."""
        fields = self.struct.unpack_from(data)
        # fields is (length, key, value, timestamp) * n: tuple slices and == run in C.
        if fields[0::4] != self.lengths or fields[1::4] != self.keys:
            return None
        return fields[2::4], fields[3::4]


def readable_files(path: str) -> list[str]:
    """The directory's files in the stock collector's order, minus those too short to hold a header.

    A new worker's file exists at 0 bytes for a moment (MmapedDict opens it,
    then sizes it): it holds no sample yet, and reading its header would fail.
    """
    files = []
    for filename in glob.glob(os.path.join(path, "*.db")):
        try:
            # An 8-byte file is a header with no entry: skipped or read, no sample (`<=` is equivalent).
            if os.path.getsize(filename) < HEADER_SIZE:  # pragma: no mutate
                continue
        except FileNotFoundError:
            pass  # removed since the glob: the reader decides, as the stock one does
        files.append(filename)
    return files


def _exact_sum(values):
    """The correctly rounded sum of `values`, whatever their order (stock's file-order sum for inf/NaN/overflow)."""
    if len(values) == 1:  # most samples: one file has them (the same number, without the call)
        return values[0] + 0.0
    try:
        # + 0.0: stock's sums start at 0.0, so never give -0.0. CPython 3.11's fsum already gives 0.0 for zeros
        # that cancel or are all -0.0 (it keeps no zero partial), so `- 0.0` is an equivalent mutant there.
        return math.fsum(values) + 0.0  # pragma: no mutate
    except (OverflowError, ValueError):  # an infinity, inf - inf, or past the largest float
        total = 0.0
        for value in values:
            total += value
        return total


def _read_file(path):
    """The used part of a file (at least), as MmapedDict.read_all_values_from_file reads it; None if too short."""
    with open(path, "rb") as infp:
        # Reading more (the whole file) changes no byte read; an 8-byte file is a header with no entry (MmapedDict
        # sizes a file before it writes one), so `<=` gives no sample either way: equivalent mutants.
        data = infp.read(mmap.PAGESIZE)  # pragma: no mutate
        if len(data) < HEADER_SIZE:  # pragma: no mutate
            return None, 0  # pragma: no mutate (just created, no header yet: the caller ignores `used` with None)
        used = _unpack_integer(data, 0)[0]  # pragma: no mutate (unpack_from's offset defaults to 0: equivalent)
        # Equivalent mutants: at `>=` it reads 0 bytes more; reading more than the rest (`used + len(data)`,
        # or all) stops at the end of the file and changes no value read, nor the bytes the layout reads.
        if used > len(data):  # pragma: no mutate
            data += infp.read(used - len(data))  # pragma: no mutate
    return data, used


def _entries(path, typ, mode, pid):
    """(plans, values, timestamps) of one file, compiling its layout again only if it changed."""
    data, used = _read_file(path)
    if data is None:
        return (), (), ()
    layout = _layouts.get(path)
    read = layout.read(data) if layout is not None and layout.used == used else None
    if read is None:
        layout = _layouts[path] = _Layout(data, used, typ, mode, pid)
        read = layout.read(data)
    return layout.plans, read[0], read[1]


class _Family:
    """One metric being merged: its header and {group: {line prefix: value}} in stock order.

    In a summing family a value is the list of every file's value, summed exactly at the end.
    """

    __slots__ = ("header", "kind", "summing", "groups", "buckets", "stamps")

    def __init__(self, header, kind, summing):
        self.header, self.kind, self.summing = header, kind, summing  # header: (metric name, help, type)
        self.groups, self.buckets, self.stamps = {}, {}, {}


def render_fast(path: str, openmetrics: bool = False, exemplars: dict | None = None) -> bytes:
    """The same bytes as `render_stock(path, openmetrics, exemplars)`, or `Unusual`.

    `exemplars` ({exemplar file key: (value, timestamp, trace id)}, exemplar_files.merge) are shown
    in the OpenMetrics format only, each on the line of its bucket.
    """
    files = readable_files(path)  # the stock collector's files, in its order
    families = {}
    for filename in files:
        parts = os.path.basename(filename).split("_")
        typ = parts[0]
        if typ not in _TYPES or (typ == "gauge" and len(parts) < 3):
            raise Unusual(filename)  # a gauge file must name its mode and pid: let the stock code judge
        mode, pid = (parts[1], parts[2][:-3]) if typ == "gauge" else (None, None)
        rule = _GAUGE_RULES.get(mode, "last") if typ == "gauge" else "sum"
        try:
            plans, values, stamps = _entries(filename, typ, mode, pid)
        except FileNotFoundError:
            if typ == "gauge" and mode.startswith("live"):
                continue  # a dead worker's live gauges, removed since the glob (as the stock code allows)
            raise
        kind = (typ, mode)
        for (metric_name, help_text, group, prefix, bucket), value, stamp in zip(plans, values, stamps):
            family = families.get(metric_name)
            if family is None:
                family = families[metric_name] = _Family((metric_name, help_text, typ), kind, rule == "sum")
            elif family.kind != kind:
                raise Unusual(metric_name)  # the stock code merges this by the first file's type
            if bucket is not None:
                # A histogram bucket: collect per bound now, cumulate in order of bounds at the end.
                entry = family.buckets.get(group)
                if entry is None:
                    entry = family.buckets[group] = (prefix, {})  # the _count line, the bounds
                bounds = entry[1]
                # Keyed by the bound as a number, as stock does: 0.0 and -0.0 are one bucket, and
                # its line spells the bound as the first file seen did.
                bound = bounds.get(bucket[0])
                if bound is None:
                    bounds[bucket[0]] = (bucket[1], [value])
                else:
                    bound[1].append(value)
                continue
            samples = family.groups.get(group)
            if rule == "sum":
                if samples is None:
                    samples = family.groups[group] = {}
                contributions = samples.get(prefix)
                if contributions is None:
                    samples[prefix] = [value]
                else:
                    contributions.append(value)
            elif rule == "last":
                if samples is None:
                    samples = family.groups[group] = {}
                samples[prefix] = value
            elif rule == "mostrecent":
                # Only a value set at a later time wins; a never-set gauge (timestamp 0) never does.
                if family.stamps.get(prefix, 0.0) < stamp:
                    if samples is None:
                        samples = family.groups[group] = {}
                    samples[prefix] = value
                    family.stamps[prefix] = stamp
            else:  # min, max
                if samples is None:
                    samples = family.groups[group] = {}
                current = samples.setdefault(prefix, value)
                if (value < current) if rule == "min" else (value > current):
                    samples[prefix] = value
    # Forget the layouts of files gone since (dead workers' files, compacted into the archives).
    for gone in set(_layouts).difference(files):
        del _layouts[gone]
    if not openmetrics:
        return _exposition(families.values(), _header, {})
    suffixes = {_exemplar_prefix(key): _exemplar_suffix(*exemplar) for key, exemplar in (exemplars or {}).items()}
    return _exposition(families.values(), _openmetrics_header, suffixes) + b"# EOF\n"


@functools.lru_cache(maxsize=1024)
def _openmetrics_header(metric_name, help_text, typ):
    """The # HELP and # TYPE lines of a family in OpenMetrics (the family name as is, quotes escaped in help)."""
    if escape_metric_name(metric_name) != metric_name:
        raise Unusual(metric_name)
    help_text = help_text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
    return f"# HELP {metric_name} {help_text}\n# TYPE {metric_name} {typ}\n"


@functools.lru_cache(maxsize=16384)
def _exemplar_prefix(key):
    """The line prefix of the bucket an exemplar file's key names (exemplar_files.entry_key)."""
    metric_name, labels, le = json.loads(key)
    return _line_prefix(metric_name + "_bucket", tuple(sorted(labels.items())) + (("le", le),))


@functools.lru_cache(maxsize=4096)  # most exemplars are the same between two scrapes
def _exemplar_suffix(value, timestamp, trace_id):
    """` # {trace_id="..."} value timestamp`, as prometheus_client's OpenMetrics exposition writes an exemplar."""
    return f' # {{{exemplar_files.LABEL}="{trace_id.hex()}"}} {floatToGoString(value)} {timestamp}'


def _exposition(families, header, suffixes):
    """Each family's header, then its lines, groups in first-seen order; a line's exemplar after it."""
    output = []
    for family in families:
        output.append(header(*family.header))
        if family.summing:
            for samples in family.groups.values():
                for prefix, contributions in samples.items():
                    samples[prefix] = _exact_sum(contributions)
        # As the stock collector does: buckets cumulate in order of bounds, after the group's
        # other samples (_sum), and the last (+Inf) total is the _count. Each cumulative value
        # is the exact sum of all it covers (not a running float sum, which would round).
        for group, (count_prefix, bounds) in family.buckets.items():
            samples = family.groups.setdefault(group, {})
            covered = []
            # The bounds are distinct keys, so sorting the items without the key function is equivalent.
            for _, (prefix, contributions) in sorted(bounds.items(), key=lambda item: item[0]):  # pragma: no mutate
                covered.extend(contributions)
                samples[prefix] = total = _exact_sum(covered)
            samples[count_prefix] = total
        for samples in family.groups.values():
            for prefix, value in samples.items():
                output.append(f"{prefix}{floatToGoString(value)}{suffixes.get(prefix, '')}\n" if suffixes
                              else f"{prefix}{floatToGoString(value)}\n")
    return "".join(output).encode("utf-8")  # pragma: no mutate (codec names are case-insensitive)
