"""Exemplars in gunicorn multiprocess mode: one bounded file per worker, beside prometheus_client's.

prometheus_client's multiprocess files hold a value and a timestamp per key, and its
MultiProcessCollector drops exemplars. So each worker keeps its exemplars in a file of its own,
`exemplars_{pid}.bin` (not `*.db`: the stock collector reads every `*.db` as a metric file),
laid out like prometheus_client's MmapedDict:

    header   used bytes (u32), 4 bytes of padding
    entries  key length (u32), key (UTF-8 JSON: metric, labels, le), padding to 8 bytes,
             then a fixed record: sequence (u64), value (f64), timestamp (f64), trace id (16 bytes)

A key is one bucket of one series, written once; its record is overwritten in place by the
next sampled observation in that bucket (most recent wins). So a file holds at most one
exemplar per bucket per series, bounded by the series the worker has, like its histogram file.

Readers are other processes (scrapes) reading while a worker writes: the record carries a
sequence number, odd while the writer is inside it (a seqlock). A reader takes a record only
when the sequence is even and the same before and after it copied the record; a record being
written is left out of that scrape (it will be there on the next). The writer appends a new
entry completely before it moves `used`, so a reader never sees half an entry. As the metric
renderer does (multiprocess_render.py), a reader compiles each file's layout into a struct once
and reads all of it in one C call per scrape, while the file's size and keys stay the same.
"""
import json
import mmap
import os
import struct
import threading
from collections.abc import Iterator

HEADER_SIZE = 8  # used bytes (u32) + padding: a shorter file (being created) is skipped
INITIAL_SIZE = 16 * 1024
PREFIX = "exemplars_"
SUFFIX = ".bin"
ARCHIVE = f"{PREFIX}archive{SUFFIX}"
LABEL = "trace_id"  # the exemplar's one label: 40 of the 128 characters OpenMetrics allows
_RECORD = struct.Struct("<Qdd16s")  # sequence, value, timestamp, trace id
_SEQUENCE = struct.Struct("<Q")
_USED = struct.Struct("<I")
_LENGTH = struct.Struct("<I")


def file_name(pid: int | str) -> str:
    """The exemplar file of one worker process."""
    return f"{PREFIX}{pid}{SUFFIX}"


def entry_key(metric_name: str, labels: dict[str, str], le: str) -> bytes:
    """The key of one bucket of one series: the same bytes for the same bucket, in every process."""
    return json.dumps([metric_name, labels, le], sort_keys=True, separators=(",", ":")).encode("utf-8")


def _padded(length: int) -> int:
    """Bytes from an entry's start to its record: length field, key, padding to 8."""
    return (4 + length + 7) // 8 * 8


class ExemplarFile:
    """A process's exemplar file, mmapped for writing (one writer process; its threads take a lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = open(path, "a+b")  # noqa: SIM115 - kept open for the mmap's lifetime
        if os.fstat(self._file.fileno()).st_size < HEADER_SIZE:
            self._file.truncate(INITIAL_SIZE)
        self._capacity = os.fstat(self._file.fileno()).st_size
        self._map = mmap.mmap(self._file.fileno(), self._capacity)
        self._used = _USED.unpack_from(self._map, 0)[0]
        if self._used == 0:
            self._used = HEADER_SIZE
            _USED.pack_into(self._map, 0, self._used)
        self._positions = {key: position for key, position, _record in _walk(self._map, self._used)}

    def write(self, key: bytes, value: float, timestamp: float, trace_id: bytes) -> None:
        """Make (value, timestamp, trace id) the exemplar of `key`, replacing the one before."""
        with self._lock:
            position = self._positions.get(key)
            if position is None:
                position = self._append(key)
            sequence = _SEQUENCE.unpack_from(self._map, position)[0]
            _SEQUENCE.pack_into(self._map, position, sequence + 1)  # odd: being written
            _RECORD.pack_into(self._map, position, sequence + 1, value, timestamp, trace_id)
            _SEQUENCE.pack_into(self._map, position, sequence + 2)  # even: complete

    def _append(self, key: bytes) -> int:
        start = self._used
        record = start + _padded(len(key))
        end = record + _RECORD.size
        if end > self._capacity:
            self._grow(end)
        _LENGTH.pack_into(self._map, start, len(key))
        self._map[start + 4:start + 4 + len(key)] = key
        _RECORD.pack_into(self._map, record, 0, 0.0, 0.0, bytes(16))
        self._used = end
        _USED.pack_into(self._map, 0, end)  # last: readers see the entry whole or not at all
        self._positions[key] = record
        return record

    def _grow(self, needed: int) -> None:
        capacity = self._capacity
        while capacity < needed:
            capacity *= 2
        self._map.close()
        self._file.truncate(capacity)
        self._capacity = capacity
        self._map = mmap.mmap(self._file.fileno(), capacity)

    def close(self) -> None:
        """Unmap and close (the file stays, for the scrapes and for compaction)."""
        with self._lock:
            self._map.close()
            self._file.close()


def _walk(data, used: int) -> Iterator[tuple[bytes, int, bytes]]:
    """(key, record position, record bytes) of every entry below `used`."""
    position = HEADER_SIZE
    while position + 4 <= used:
        length = _LENGTH.unpack_from(data, position)[0]
        record = position + _padded(length)
        if record + _RECORD.size > used:
            raise RuntimeError(f"Exemplar entry at {position} runs past the used size {used}; the file is corrupted.")
        yield bytes(data[position + 4:position + 4 + length]), record, bytes(data[record:record + _RECORD.size])
        position = record + _RECORD.size


class _Layout:
    """A file's entries as of one read: structs that read every field, and the sequences alone, in one C call."""

    __slots__ = ("used", "fields", "sequences", "lengths", "keys")

    def __init__(self, data: bytes, used: int) -> None:
        fields, sequences, lengths, keys, previous = ["<"], ["<"], [], [], 0
        for key, position, _record in _walk(data, used):
            start = position - _padded(len(key))  # the entry's length field; `previous` is where the last one ended
            fields.append(f"{start - previous}xI{len(key)}s{position - start - 4 - len(key)}xQdd16s")
            sequences.append(f"{position - previous}xQ{_RECORD.size - 8}x")
            lengths.append(len(key))
            keys.append(key)
            previous = position + _RECORD.size
        self.used = used
        self.fields, self.sequences = struct.Struct("".join(fields)), struct.Struct("".join(sequences))
        self.lengths, self.keys = tuple(lengths), tuple(keys)

    def read(self, data: bytes) -> tuple | None:
        """The fields of every entry, or None if the keys are not the compiled ones (another file at this path)."""
        fields = self.fields.unpack_from(data)
        if fields[0::6] != self.lengths or fields[1::6] != self.keys:
            return None
        return fields


_layouts: dict[str, _Layout] = {}  # file path -> layout of its last read (a scrape reads the same files again)


def read(path: str) -> dict[bytes, tuple[float, float, bytes]]:
    """{key: (value, timestamp, trace id)} of one file's complete records; {} for a file without a header yet."""
    try:
        with open(path, "rb") as infile:
            data = infile.read()
            if len(data) < HEADER_SIZE:
                return {}
            used = min(_USED.unpack_from(data, 0)[0], len(data))
            layout = _layouts.get(path)
            fields = layout.read(data) if layout is not None and layout.used == used else None
            if fields is None:
                layout = _layouts[path] = _Layout(data, used)
                fields = layout.read(data)
            infile.seek(0)
            again = infile.read(used)  # the sequences after the copy: a record written meanwhile is left out
    except FileNotFoundError:  # a dead worker's file, compacted since the directory was listed
        _layouts.pop(path, None)
        return {}
    sequences = fields[2::6]
    settled = layout.sequences.unpack_from(again)
    return {key: (value, timestamp, trace_id) for key, sequence, after, value, timestamp, trace_id in zip(
        fields[1::6], sequences, settled, fields[3::6], fields[4::6], fields[5::6], strict=True)
        if sequence == after and sequence and not sequence % 2}  # written, and not being written


def files(path: str) -> list[str]:
    """Every exemplar file of the directory (workers' and the archive)."""
    return sorted(os.path.join(path, name) for name in os.listdir(path)
                  if name.startswith(PREFIX) and name.endswith(SUFFIX))


def merge(paths: list[str]) -> dict[bytes, tuple[float, float, bytes]]:
    """The latest exemplar (by timestamp) of every key across files."""
    for gone in set(_layouts).difference(paths):
        if os.path.dirname(gone) in {os.path.dirname(path) for path in paths}:
            _layouts.pop(gone, None)  # a dead worker's file, compacted (pop: two scrapes may both see it gone)
    merged: dict[bytes, tuple[float, float, bytes]] = {}
    for file_path in paths:
        for key, exemplar in read(file_path).items():
            current = merged.get(key)
            if current is None or exemplar[1] > current[1]:
                merged[key] = exemplar
    return merged


def compact(path: str, pid: int) -> None:
    """Fold a dead worker's exemplars into the archive: the newest per key stays (the caller holds the lock)."""
    dead = os.path.join(path, file_name(pid))
    if not os.path.exists(dead):
        return
    archive_path = os.path.join(path, ARCHIVE)
    held = read(archive_path)
    archive = ExemplarFile(archive_path)
    try:
        for key, (value, timestamp, trace_id) in read(dead).items():
            current = held.get(key)
            if current is None or timestamp > current[1]:
                archive.write(key, value, timestamp, trace_id)
    finally:
        archive.close()
    os.remove(dead)
