"""Each worker's exemplar file (app/common/exemplar_files.py): bounded, most recent wins, compacted, read safely."""
import os
import struct

from app.common import exemplar_files
from app.common.exemplar_files import ExemplarFile, entry_key
from app.common.multiprocess_metrics import compact_dead_worker

TRACE_A = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
TRACE_B = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")


def key(route="/", le="0.25"):
    return entry_key("t_duration_seconds", {"route": route, "method": "GET"}, le)


def worker_file(path, pid):
    return ExemplarFile(str(path / exemplar_files.file_name(pid)))


def test_one_exemplar_per_bucket_per_series_however_many_observations(tmp_path):
    """10,000 sampled observations over 3 series x 4 buckets: 12 entries, and the file stops growing."""
    writer = worker_file(tmp_path, 1)
    routes, bounds = ("/a", "/b", "/c"), ("0.1", "0.25", "1.0", "+Inf")
    for round_ in range(10_000):
        writer.write(key(routes[round_ % 3], bounds[round_ % 4]), 0.1, float(round_), TRACE_A)
        if round_ == 999:
            size_after_1000 = os.path.getsize(writer.path)
    writer.close()
    held = exemplar_files.read(str(tmp_path / exemplar_files.file_name(1)))
    assert len(held) == 12
    assert os.path.getsize(tmp_path / exemplar_files.file_name(1)) == size_after_1000
    assert os.path.getsize(tmp_path / exemplar_files.file_name(1)) == exemplar_files.INITIAL_SIZE


def test_the_most_recent_observation_of_a_bucket_wins_in_a_worker(tmp_path):
    writer = worker_file(tmp_path, 1)
    writer.write(key(), 0.2, 100.0, TRACE_A)
    writer.write(key(), 0.21, 101.0, TRACE_B)
    writer.close()
    assert exemplar_files.read(writer.path) == {key(): (0.21, 101.0, TRACE_B)}


def test_across_workers_the_latest_timestamp_wins(tmp_path):
    for pid, (value, stamp, trace) in ((1, (0.2, 105.0, TRACE_A)), (2, (0.22, 103.0, TRACE_B))):
        writer = worker_file(tmp_path, pid)
        writer.write(key(), value, stamp, trace)
        writer.write(key(route="/only-in-%d" % pid), value, stamp, trace)
        writer.close()
    merged = exemplar_files.merge(exemplar_files.files(str(tmp_path)))
    assert merged[key()] == (0.2, 105.0, TRACE_A)
    assert merged[key(route="/only-in-2")] == (0.22, 103.0, TRACE_B)
    assert len(merged) == 3


def test_a_file_grows_past_its_first_size_and_reopens_with_its_entries(tmp_path):
    writer = worker_file(tmp_path, 1)
    routes = [f"/route/{index:04d}" + "x" * 100 for index in range(300)]  # ~160 bytes an entry: past 16 KiB
    for index, route in enumerate(routes):
        writer.write(key(route), 0.1, float(index), TRACE_A)
    writer.close()
    assert os.path.getsize(writer.path) > exemplar_files.INITIAL_SIZE
    again = worker_file(tmp_path, 1)  # a process reopening it appends after what is there
    again.write(key(routes[0]), 0.3, 999.0, TRACE_B)
    again.write(key("/new"), 0.1, 1000.0, TRACE_B)
    again.close()
    held = exemplar_files.read(writer.path)
    assert len(held) == 301
    assert held[key(routes[0])] == (0.3, 999.0, TRACE_B)


def test_files_too_short_for_a_header_and_missing_files_read_as_empty(tmp_path):
    for size in (0, 4, 7):
        (tmp_path / "exemplars_9.bin").write_bytes(b"\0" * size)
        assert exemplar_files.read(str(tmp_path / "exemplars_9.bin")) == {}
    assert exemplar_files.read(str(tmp_path / "exemplars_gone.bin")) == {}


def test_a_record_being_written_is_left_out_of_the_read(tmp_path):
    """An odd sequence number: the worker is inside the record (or died there). Never half an exemplar."""
    writer = worker_file(tmp_path, 1)
    writer.write(key("/done"), 0.2, 100.0, TRACE_A)
    writer.write(key("/torn"), 0.2, 100.0, TRACE_A)
    position = writer._positions[key("/torn")]
    writer._map[position:position + 8] = struct.pack("<Q", 3)  # odd: as between the writer's two stores
    writer.close()
    assert set(exemplar_files.read(writer.path)) == {key("/done")}


def test_compaction_keeps_the_newest_per_bucket_and_removes_the_dead_workers_file(tmp_path):
    writer = worker_file(tmp_path, 1)
    writer.write(key(), 0.2, 100.0, TRACE_A)
    writer.write(key("/old-only"), 0.2, 50.0, TRACE_A)
    writer.close()
    compact_dead_worker(1, path=str(tmp_path))
    assert not (tmp_path / exemplar_files.file_name(1)).exists()
    writer = worker_file(tmp_path, 2)
    writer.write(key(), 0.24, 200.0, TRACE_B)
    writer.close()
    older = worker_file(tmp_path, 3)
    older.write(key("/old-only"), 0.2, 10.0, TRACE_B)  # older than the archive's: the archive's stays
    older.close()
    compact_dead_worker(2, path=str(tmp_path))
    compact_dead_worker(3, path=str(tmp_path))
    archive = exemplar_files.read(str(tmp_path / exemplar_files.ARCHIVE))
    assert archive == {key(): (0.24, 200.0, TRACE_B), key("/old-only"): (0.2, 50.0, TRACE_A)}
    assert exemplar_files.files(str(tmp_path)) == [str(tmp_path / exemplar_files.ARCHIVE)]


def test_worker_restarts_leave_one_bounded_archive(tmp_path):
    """200 workers in turn, each with the same series: one archive file, its size that of one worker's."""
    for pid in range(1, 201):
        writer = worker_file(tmp_path, pid)
        for route in ("/a", "/b"):
            writer.write(key(route), 0.2, float(pid), TRACE_A if pid % 2 else TRACE_B)
        writer.close()
        compact_dead_worker(pid, path=str(tmp_path))
    assert exemplar_files.files(str(tmp_path)) == [str(tmp_path / exemplar_files.ARCHIVE)]
    assert os.path.getsize(tmp_path / exemplar_files.ARCHIVE) == exemplar_files.INITIAL_SIZE
    archive = exemplar_files.read(str(tmp_path / exemplar_files.ARCHIVE))
    assert archive == {key("/a"): (0.2, 200.0, TRACE_B), key("/b"): (0.2, 200.0, TRACE_B)}


def test_compacting_a_worker_without_exemplars_or_with_an_empty_file(tmp_path):
    compact_dead_worker(7, path=str(tmp_path))  # no file at all
    (tmp_path / exemplar_files.file_name(8)).write_bytes(b"")  # died creating it
    compact_dead_worker(8, path=str(tmp_path))
    assert not (tmp_path / exemplar_files.file_name(8)).exists()
    assert exemplar_files.read(str(tmp_path / exemplar_files.ARCHIVE)) == {}


def test_a_new_file_at_a_dead_workers_path_is_read_anew(tmp_path):
    """Same path, same size, other keys (a new worker with a dead one's pid): the cached layout must not serve."""
    writer = worker_file(tmp_path, 1)
    writer.write(key("/aaaa"), 0.2, 100.0, TRACE_A)
    writer.close()
    assert set(exemplar_files.read(writer.path)) == {key("/aaaa")}
    os.remove(writer.path)
    writer = worker_file(tmp_path, 1)
    writer.write(key("/bbbb"), 0.3, 200.0, TRACE_B)
    writer.close()
    assert exemplar_files.read(writer.path) == {key("/bbbb"): (0.3, 200.0, TRACE_B)}


def test_a_record_rewritten_between_the_two_reads_is_left_out(tmp_path, monkeypatch):
    """The sequence differs between the copy and the check: the copy may be torn, so it is not used."""
    writer = worker_file(tmp_path, 1)
    writer.write(key("/stable"), 0.2, 100.0, TRACE_A)
    writer.write(key("/busy"), 0.2, 100.0, TRACE_A)
    exemplar_files.read(writer.path)  # the layout is cached: the next read goes through it
    real_read = exemplar_files._Layout.read

    def read_then_write(layout, data):
        fields = real_read(layout, data)
        writer.write(key("/busy"), 0.3, 101.0, TRACE_B)  # the worker writes after the copy, before the check
        return fields
    monkeypatch.setattr(exemplar_files._Layout, "read", read_then_write)
    assert set(exemplar_files.read(writer.path)) == {key("/stable")}
    writer.close()
