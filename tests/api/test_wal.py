"""The write-ahead log on its own: torn tails, dead writers, poison segments."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from cxlens.ingest.wal import (
    QUARANTINE_AFTER,
    Drainer,
    GroupCommit,
    SegmentLog,
    encode_record,
    read_segment,
)


def row(i: int) -> tuple[Any, ...]:
    return (f"id-{i}", 1_700_000_000_000_000, 1_700_000_000_000_000, "track", "E", None, "u",
            None, None, "segment", None, "{}", "{}", None, None)


class Sink:
    def __init__(self, fail_on: str | None = None) -> None:
        self.rows: list[list[Any]] = []
        self.fail_on = fail_on

    def __call__(self, project: str, table: pa.Table) -> int:
        rows = [list(r) for r in zip(*table.to_pydict().values(), strict=True)]
        if self.fail_on and any(r[0] == self.fail_on for r in rows):
            raise ValueError("poison")
        self.rows.extend(rows)
        return len(rows)


def test_a_torn_record_at_the_end_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    seg = tmp_path / "seg-00000001.log"
    good = encode_record("p", [row(1)]) + encode_record("p", [row(2)])
    seg.write_bytes(good + encode_record("p", [row(3)])[:-5])
    assert [r[0] for _, rows in read_segment(seg) for r in rows] == ["id-1", "id-2"]


def test_a_dead_writers_segments_are_adopted_and_drained(tmp_path: Path) -> None:
    dead = SegmentLog(tmp_path / "wal", fsync=False)
    dead.write(encode_record("p", [row(1), row(2)]))
    os.close(dead._lock_fd)  # the process died: its flock is gone, its files remain
    live = SegmentLog(tmp_path / "wal", fsync=False)
    sink = Sink()
    Drainer(live, sink).drain_once()
    assert [r[0] for r in sink.rows] == ["id-1", "id-2"]
    assert not dead.dir.exists()


def test_a_live_writers_segments_are_left_alone(tmp_path: Path) -> None:
    other = SegmentLog(tmp_path / "wal", fsync=False)
    other.write(encode_record("p", [row(1)]))
    sink = Sink()
    Drainer(SegmentLog(tmp_path / "wal", fsync=False), sink).drain_once()
    assert sink.rows == [] and any(other.dir.glob("seg-*.log"))


def test_a_poison_segment_is_set_aside_and_later_events_still_arrive(tmp_path: Path) -> None:
    wal = SegmentLog(tmp_path / "wal", fsync=False)
    sink = Sink(fail_on="id-bad")
    drainer = Drainer(wal, sink)
    wal.write(encode_record("p", [row(1)]))
    wal.rotate()
    wal.write(encode_record("p", [("id-bad", *row(0)[1:])]))
    wal.rotate()
    wal.write(encode_record("p", [row(2)]))
    for _ in range(QUARANTINE_AFTER):
        drainer.drain_once()
    assert sorted(r[0] for r in sink.rows) == ["id-1", "id-2"]
    assert drainer.quarantined == 1
    assert len(list((tmp_path / "wal" / "quarantine").iterdir())) == 1
    assert not list(wal.dir.glob("seg-*.log"))[:-1]


def test_one_drainer_leads_and_drains_the_other_live_writers_closed_segments(tmp_path: Path) -> None:
    a_log, b_log = SegmentLog(tmp_path / "wal", fsync=False), SegmentLog(tmp_path / "wal", fsync=False)
    a_sink, b_sink = Sink(), Sink()
    leader, follower = Drainer(a_log, a_sink), Drainer(b_log, b_sink)
    leader.drain_once()  # takes the lead
    b_log.write(encode_record("p", [row(1)]))
    leader.drain_once()
    assert a_sink.rows == []  # still open in b: never read while its writer may append
    follower.drain_once()  # a follower only closes its segment
    assert b_sink.rows == []
    leader.drain_once()
    assert [r[0] for r in a_sink.rows] == ["id-1"] and b_sink.rows == []
    assert not b_log.closed_segments()


def test_a_follower_confirms_an_erase_only_after_the_leader_drained_its_segments(tmp_path: Path) -> None:
    from cxlens.ingest import wal_erasure

    a_log, b_log = SegmentLog(tmp_path / "wal", fsync=False), SegmentLog(tmp_path / "wal", fsync=False)
    a_sink = Sink()
    leader, follower = Drainer(a_log, a_sink), Drainer(b_log, Sink())
    leader.drain_once()
    b_log.write(encode_record("p", [row(1), ("id-erase-me", *row(0)[1:])]))
    req_dir = tmp_path / "wal" / wal_erasure.ERASE_DIR
    req_dir.mkdir()
    (req_dir / "r1.json").write_bytes(b'{"pattern": "erase-me"}')
    follower.drain_once()
    assert not (b_log.dir / "erase-r1.ack").exists()
    leader.drain_once()
    assert [r[0] for r in a_sink.rows] == ["id-1"]
    follower.drain_once()
    assert (b_log.dir / "erase-r1.ack").exists()


def test_the_lead_passes_to_a_follower_when_the_leader_stops(tmp_path: Path) -> None:
    a_log, b_log = SegmentLog(tmp_path / "wal", fsync=False), SegmentLog(tmp_path / "wal", fsync=False)
    b_sink = Sink()
    leader, follower = Drainer(a_log, Sink()), Drainer(b_log, b_sink)
    leader.drain_once()
    leader.start()
    leader.stop()
    b_log.write(encode_record("p", [row(1)]))
    follower.drain_once()
    assert [r[0] for r in b_sink.rows] == ["id-1"]


def test_a_full_segment_is_closed_so_no_drain_round_reads_more_than_a_bounded_piece(
        tmp_path: Path) -> None:
    record = encode_record("p", [row(i) for i in range(50)])
    wal = SegmentLog(tmp_path / "wal", fsync=False, max_segment_bytes=3 * len(record))
    for _ in range(10):  # nobody rotates: the drainer is busy elsewhere
        wal.write(record)
    sizes = [p.stat().st_size for p in wal.closed_segments()]
    assert sizes == [3 * len(record)] * 3
    sink = Sink()
    Drainer(wal, sink).drain_once()
    assert len(sink.rows) == 500  # the open segment's record too (the round rotates it)
    assert not wal.closed_segments()


def test_a_writer_that_is_behind_appends_in_fewer_larger_rounds(
        tmp_path: Path, monkeypatch: Any) -> None:
    from cxlens.ingest import wal as wal_module

    record = encode_record("p", [row(i) for i in range(10)])
    monkeypatch.setattr(wal_module, "MAX_DRAIN_BYTES", 2 * len(record))
    monkeypatch.setattr(wal_module, "MAX_DRAIN_BYTES_BEHIND", 6 * len(record))
    wal = SegmentLog(tmp_path / "wal", fsync=False, max_segment_bytes=len(record))
    calls: list[int] = []

    def sink(project: str, columns: list[list[Any]]) -> int:
        calls.append(len(columns[0]))
        return len(columns[0])

    drainer = Drainer(wal, sink)
    for _ in range(3):  # 3 records waiting: not behind, rounds of 2 records
        wal.write(record)
    drainer.drain_once()
    assert calls == [20, 10]
    calls.clear()
    for _ in range(12):  # 12 waiting: behind, rounds of 6
        wal.write(record)
    drainer.drain_once()
    assert calls == [60, 60]


def test_concurrent_requests_share_one_record_per_project_and_a_lone_one_is_not_held(
        tmp_path: Path) -> None:
    log = SegmentLog(tmp_path / "wal", fsync=False)
    writes: list[bytes] = []
    write = log.write
    log.write = lambda data: (writes.append(data), write(data))[1]  # type: ignore[method-assign]
    commit = GroupCommit(log, spacing=0.05)

    async def scenario() -> float:
        await commit.append("a", [row(0)])  # alone: its own group
        await asyncio.gather(*(commit.append("a" if i % 2 else "b", [row(i)])
                               for i in range(1, 9)))
        await asyncio.sleep(0.1)  # quiet again: the next request goes out at once
        started = time.monotonic()
        await commit.append("a", [row(9)])
        return time.monotonic() - started

    lone = asyncio.run(scenario())
    commit.close()
    log.rotate()
    records = [(p, [r[0] for r in rows]) for seg in log.closed_segments()
               for p, rows in read_segment(seg)]
    assert sorted(records[1:3]) == [("a", ["id-1", "id-3", "id-5", "id-7"]),
                                    ("b", ["id-2", "id-4", "id-6", "id-8"])]
    assert records[0] == ("a", ["id-0"]) and records[3] == ("a", ["id-9"])
    assert len(writes) == 3
    assert lone < 0.04
