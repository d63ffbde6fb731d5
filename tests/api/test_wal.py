"""The write-ahead log on its own: torn tails, dead writers, poison segments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cxlens.ingest.wal import (
    QUARANTINE_AFTER,
    Drainer,
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

    def __call__(self, project: str, rows: list[list[Any]]) -> int:
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
