"""The streaming partition writer behind every append: one file per partition, every
row kept, whatever the order of the input."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxlens.store.partitions import write_partitioned

SCHEMA = pa.schema([pa.field("event_id", pa.string()), pa.field("n", pa.int64())])


def rows(keys: list[tuple[str, dt.date]]) -> pa.Table:
    return pa.table({
        "event_id": [f"e{i}" for i in range(len(keys))],
        "n": list(range(len(keys))),
        "project": [p for p, _ in keys],
        "date": pa.array([d for _, d in keys], pa.date32()),
    })


def written(out: Path) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}
    for path in out.rglob("*.parquet"):
        key = (path.parent.parent.name.split("=")[1], path.parent.name.split("=")[1])
        assert key not in found, "one file per partition"
        found[key] = pq.read_table(path).column("n").to_pylist()
    return found


@pytest.mark.parametrize("shuffle", [False, True], ids=["time-ordered", "shuffled"])
def test_rows_land_in_one_file_per_project_and_day(tmp_path: Path, shuffle: bool) -> None:
    days = [dt.date(2024, 5, 1) + dt.timedelta(days=i) for i in range(7)]
    keys = [(p, d) for d in days for p in ("shop", "b2b") for _ in range(300)]
    if shuffle:
        random.Random(1).shuffle(keys)
    table = rows(keys)
    # a small buffer: partitions are written out early, and still into one file each
    n, files = write_partitioned(table.to_reader(max_chunksize=256), tmp_path, SCHEMA,
                                 max_buffered_rows=500)
    assert n == len(keys) and sum(f.rows for f in files) == len(keys)
    found = written(tmp_path)
    assert len(found) == 14
    for (project, day), ns in found.items():
        assert sorted(ns) == [i for i, k in enumerate(keys) if k == (project, dt.date.fromisoformat(day))]
    assert pq.read_schema(next(tmp_path.rglob("*.parquet"))).names == ["event_id", "n"]


def test_an_error_in_the_stream_stops_the_writer_and_is_raised(tmp_path: Path) -> None:
    def broken() -> pa.RecordBatchReader:
        good = rows([("shop", dt.date(2024, 5, 1))] * 10).to_batches()[0]

        def batches() -> Iterator[pa.RecordBatch]:
            yield good
            raise pa.ArrowInvalid("the source broke")

        return pa.RecordBatchReader.from_batches(good.schema, batches())

    with pytest.raises(pa.ArrowInvalid, match="the source broke"):
        write_partitioned(broken(), tmp_path, SCHEMA)


def test_a_day_is_written_out_once_time_ordered_rows_have_moved_past_it(tmp_path: Path) -> None:
    from cxlens.store.partitions import COLD_FLUSH_ROWS, PartitionWriter

    days = [dt.date(2024, 5, 1) + dt.timedelta(days=i) for i in range(3)]
    writer = PartitionWriter(tmp_path, SCHEMA)
    for day in days:
        writer.add(rows([("shop", day)] * COLD_FLUSH_ROWS).to_batches()[0])
    # the first two days are on disk before the end; the last one may still get rows
    assert [p.file.rows for p in writer.parts.values()] == [COLD_FLUSH_ROWS, COLD_FLUSH_ROWS, 0]
    files = writer.close()
    assert [f.rows for f in files] == [COLD_FLUSH_ROWS] * 3
    assert all(pq.ParquetFile(f.path).num_row_groups == 1 for f in files)
