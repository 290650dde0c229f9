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
different layout), and keep only the arithmetic and the joining of lines per scrape. While no
file's layout changes, the merge itself (which line each entry joins, in which order) is kept
too (_Program): 4.2 to 2.2 ms of CPU per warm OpenMetrics render of the scrape bench's
directory, 18.4 to 11.5 million instructions (callgrind, exemplar merge included).

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
import itertools
import json
import math
import mmap
import operator
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
    """_entry_plan, with the pid only where the plan depends on it (gauges kept per process).

    Every worker's files hold mostly the same keys, so a new worker's files (after a restart, or a
    series new to a worker) compile from plans already made for the others' files: a new layout costs
    its struct and its lookups, not a JSON parse and label formatting per entry again. On the scrape
    bench's directory (4 workers, 22 files, 481 series), a render that compiles every layout again took
    15.5 ms of CPU before, 7.2 ms with these plans and _Program (95 to 47 million instructions).
    """
    return _entry_plan(key, typ, mode, pid if typ == "gauge" and mode not in _GAUGE_RULES else None)


@functools.lru_cache(maxsize=32768)
def _entry_plan(key, typ, mode, pid):
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

    __slots__ = ("used", "format", "struct", "lengths", "keys", "plans")

    def __init__(self, data, used, typ, mode, pid, base=None):
        # The stock reader's walk (prometheus_client.mmap_dict._read_all_values), done once. A file only ever
        # grows (MmapedDict appends, never moves an entry): from `base`, the file's layout when it was shorter
        # (the caller checked its entries are still there), only the entries appended since are walked.
        if base is None:
            fields, lengths, keys, plans, pos = ["=8x"], [], [], [], 8
        else:
            fields, lengths, keys, plans, pos = [base.format], list(base.lengths), list(base.keys), \
                list(base.plans), base.used
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
        self.used, self.format = used, "".join(fields)
        self.struct = struct.Struct(self.format)
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
    """(layout, values, timestamps) of one file, compiling its layout again only if it changed (None: no entry)."""
    data, used = _read_file(path)
    if data is None:
        return None, (), ()
    layout = _layouts.get(path)
    read = layout.read(data) if layout is not None and layout.used == used else None
    if read is None:
        # New series since (the file grew, its first entries unchanged): walk only what was appended.
        grown = layout is not None and layout.used < used and layout.read(data) is not None
        layout = _layouts[path] = _Layout(data, used, typ, mode, pid, layout if grown else None)
        read = layout.read(data)
    return layout, read[0], read[1]


_PICK, _SUM_ONE, _SUM, _MIN, _MAX = range(5)  # how a line's value comes from the values it covers
_program = None  # the _Program of the last scrape's layouts (used under LAYOUTS_LOCK, as the layouts are)


class _Program:
    """Every line of the exposition, in order, with the positions of the values it merges (in all files' values,
    file after file): the stock merge done once on positions instead of values, and kept while every file keeps
    its layout (the common case: no new series, no worker gone). A scrape then reads the values and does only
    the arithmetic and the formatting; the lookups per entry (which family, group and line it joins) were ~40%
    of a warm render when they were done at every scrape.

    The stock merge: families in the order first seen, and in each its groups of labels and their lines in the
    order first seen; a histogram's buckets cumulate in order of bounds after the group's other lines (_sum),
    and the last (+Inf) total is the _count. Each summed value is the exact sum of all it covers (not a running
    float sum, which would round). A mostrecent family's lines depend on the values (a line appears once some
    process has set it, in the order they were first set): its entries are kept in file order and merged at
    each scrape.
    """

    __slots__ = ("layouts", "families", "timed")

    def __init__(self, layouts, families):
        # families: (header, lines) each; lines is [(prefix, operation, what it reads)], or for a mostrecent
        # family ("mostrecent", [(group, prefix, position)]).
        self.layouts, self.families = layouts, families
        self.timed = any(isinstance(lines, tuple) for _header, lines in families)

    @classmethod
    def compile(cls, layouts, read):
        """The program of these files (their layouts and rules as `render_fast` read them)."""
        families, offset = {}, 0
        for typ, mode, rule, layout, values, _stamps in read:
            if layout is None:
                continue
            kind = (typ, mode)
            for position, (metric_name, help_text, group, prefix, bucket) in enumerate(layout.plans, offset):
                family = families.get(metric_name)
                if family is None:
                    # header, kind, rule, {group: {prefix: positions}}, {group: (count prefix, bounds)}, entries
                    family = families[metric_name] = ((metric_name, help_text, typ), kind, rule, {}, {}, [])
                elif family[1] != kind:
                    raise Unusual(metric_name)  # the stock code merges this by the first file's type
                if bucket is not None:
                    entry = family[4].get(group)
                    if entry is None:
                        entry = family[4][group] = (prefix, {})  # the _count line, the bounds
                    # Keyed by the bound as a number, as stock does: 0.0 and -0.0 are one bucket, and
                    # its line spells the bound as the first file seen did.
                    bound = entry[1].get(bucket[0])
                    if bound is None:
                        entry[1][bucket[0]] = (bucket[1], [position])
                    else:
                        bound[1].append(position)
                elif rule == "mostrecent":
                    family[5].append((group, prefix, position))
                else:
                    family[3].setdefault(group, {}).setdefault(prefix, []).append(position)
            offset += len(values)
        program = []
        for header, _kind, rule, groups, buckets, entries in families.values():
            if rule == "mostrecent":
                program.append((header, ("mostrecent", entries)))
                continue
            merged = {group: {prefix: cls._operation(rule, positions) for prefix, positions in samples.items()}
                      for group, samples in groups.items()}
            for group, (count_prefix, bounds) in buckets.items():
                samples = merged.setdefault(group, {})
                covered = []
                for _, (prefix, positions) in sorted(bounds.items(), key=lambda item: item[0]):  # pragma: no mutate
                    covered.extend(positions)
                    samples[prefix] = total = cls._operation("sum", covered)
                samples[count_prefix] = total
            program.append((header, [(prefix, *operation) for samples in merged.values()
                                     for prefix, operation in samples.items()]))
        return cls(layouts, program)

    @staticmethod
    def _operation(rule, positions):
        """(operation, what it reads) for one line: a position, or a getter of several, in file order."""
        if rule == "sum":
            return (_SUM_ONE, positions[0]) if len(positions) == 1 else (_SUM, operator.itemgetter(*positions))
        if rule == "last" or len(positions) == 1:  # last: the last file's value; one value is its own min or max
            return _PICK, positions[-1]
        return (_MIN if rule == "min" else _MAX), operator.itemgetter(*positions)

    def run(self, read, header, suffixes):
        """The exposition of these values (the files' values, in the order the program was compiled for)."""
        values = tuple(itertools.chain.from_iterable(entry[4] for entry in read))
        stamps = tuple(itertools.chain.from_iterable(entry[5] for entry in read)) if self.timed else ()
        output = []
        for family_header, lines in self.families:
            output.append(header(*family_header))
            if isinstance(lines, tuple):
                lines = self._most_recent(lines[1], values, stamps)
            for prefix, operation, reads in lines:
                if operation == _PICK:
                    value = values[reads]
                elif operation == _SUM_ONE:
                    value = values[reads] + 0.0  # as _exact_sum of one value: never -0.0
                elif operation == _SUM:
                    value = _exact_sum(reads(values))
                elif operation == _MIN:
                    value = min(reads(values))  # stock's: the first value, replaced only by a strictly smaller one
                else:
                    value = max(reads(values))
                output.append(f"{prefix}{floatToGoString(value)}{suffixes.get(prefix, '')}\n")
        return "".join(output).encode("utf-8")  # pragma: no mutate (codec names are case-insensitive)

    @staticmethod
    def _most_recent(entries, values, stamps):
        """A mostrecent family's lines, as stock merges them: a later time wins, a never-set gauge never does."""
        groups, latest = {}, {}
        for group, prefix, position in entries:
            if latest.get(prefix, 0.0) < stamps[position]:
                groups.setdefault(group, {})[prefix] = position
                latest[prefix] = stamps[position]
        return [(prefix, _PICK, position) for samples in groups.values() for prefix, position in samples.items()]


def render_fast(path: str, openmetrics: bool = False, exemplars: dict | None = None) -> bytes:
    """The same bytes as `render_stock(path, openmetrics, exemplars)`, or `Unusual`.

    `exemplars` ({exemplar file key: (value, timestamp, trace id)}, exemplar_files.merge) are shown
    in the OpenMetrics format only, each on the line of its bucket.
    """
    global _program
    files = readable_files(path)  # the stock collector's files, in its order
    read = []  # (typ, mode, rule, layout, values, timestamps) of each file, in order
    for filename in files:
        parts = os.path.basename(filename).split("_")
        typ = parts[0]
        if typ not in _TYPES or (typ == "gauge" and len(parts) < 3):
            raise Unusual(filename)  # a gauge file must name its mode and pid: let the stock code judge
        mode, pid = (parts[1], parts[2][:-3]) if typ == "gauge" else (None, None)
        rule = _GAUGE_RULES.get(mode, "last") if typ == "gauge" else "sum"
        try:
            layout, values, stamps = _entries(filename, typ, mode, pid)
        except FileNotFoundError:
            if typ == "gauge" and mode.startswith("live"):
                continue  # a dead worker's live gauges, removed since the glob (as the stock code allows)
            raise
        read.append((typ, mode, rule, layout, values, stamps))
    # Forget the layouts of files gone since (dead workers' files, compacted into the archives).
    for gone in set(_layouts).difference(files):
        del _layouts[gone]
    if openmetrics:
        header = _openmetrics_header
        suffixes = {_exemplar_prefix(key): _exemplar_suffix(*exemplar) for key, exemplar in (exemplars or {}).items()}
    else:
        header, suffixes = _header, {}
    layouts = tuple(layout for _typ, _mode, _rule, layout, _values, _stamps in read)
    if _program is None or _program.layouts != layouts:
        _program = _Program.compile(layouts, read)
    body = _program.run(read, header, suffixes)
    return body + b"# EOF\n" if openmetrics else body


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
