"""Write a stream of event rows into Hive partitions (project=P/date=D), one file each.

DuckDB's own ``COPY ... PARTITION_BY`` materialises its whole input in per-partition
buffers before it writes (memory grows with the import and spills to disk beyond the
memory limit), and that copy cost a quarter of an import's time. Here DuckDB streams
the normalised rows as Arrow batches and a writer thread appends each batch's rows to
the open Parquet file of their partition, while DuckDB computes the next batches:

* memory stays bounded by the batches in flight plus a small buffer per partition
  (rows of one partition are gathered into row groups of ``ROW_GROUP_ROWS``; when
  more than ``MAX_BUFFERED_ROWS`` wait, the biggest buffer is written out early);
* every partition gets exactly one file per append, however the input is ordered;
* in time-ordered input (the usual import) a day whose rows have stopped coming is
  written out at once, not at the end: the encoding then overlaps DuckDB's work instead
  of running alone after it, and the kernel is asked to start writing each row group to
  disk right away, so the fsync before the catalog commit has little left to wait for.

The files are written under the caller's temporary directory; installing them
(fsync, rename, catalog commit) stays the caller's business.
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Rows per Arrow batch pulled from DuckDB. DuckDB grows each string column's Arrow
#: buffer by doubling (realloc) and glibc serves a block above 32 MB with a fresh mmap:
#: at 131,072 rows the ~200-byte context text needed one, so every batch's strings were
#: copied into new pages (page faults, zeroing) and munmapped again. At 32,768 rows the
#: buffers stay in malloc's heap and are reused: a 10M-event import made 0.47M instead
#: of 1.0M page faults and cost ~0.9 CPU-s less (11.4 -> 10.5), with ~60 % of the memory.
BATCH_ROWS: Final = 32_768
#: rows per Parquet row group (DuckDB's own default is 122,880)
ROW_GROUP_ROWS: Final = 262_144
#: rows held back across all partitions before the biggest buffer is written out
MAX_BUFFERED_ROWS: Final = 1_048_576
#: batches queued between DuckDB and the writer thread
_QUEUE_DEPTH: Final = 4
#: Columns (nearly) unique per row: a dictionary cannot shrink them, and trying costs
#: ~15 % of the encoding CPU before the writer falls back to plain encoding at the first
#: full dictionary page. Measured on 2M normalised events: 0.82 -> 0.68 CPU-s per file
#: with the statistics rule below, and 3 % smaller files.
NO_DICTIONARY: Final = frozenset({"event_id", "timestamp"})
#: Long JSON text nobody filters on by min/max: computing its statistics only costs.
NO_STATISTICS: Final = frozenset({"properties", "context"})
#: Largest dictionary page per column chunk. At Parquet's default (1 MB) the context
#: text of a day (~19,000 distinct values of ~200 bytes) overflowed the dictionary, so the
#: writer hashed the first rows, then fell back to plain pages and compressed the whole
#: text. With room for the day's values it stays dictionary-encoded: 28 % smaller files
#: and ~6 % less encoding CPU (2M normalised events: 0.68 -> 0.64 CPU-s). Spark and DuckDB
#: read dictionary pages of any size.
DICTIONARY_PAGE_BYTES: Final = 8 << 20
#: a day with at least this many rows waiting is written out as soon as a batch of
#: time-ordered input no longer reaches it (smaller remainders wait for the end)
COLD_FLUSH_ROWS: Final = 4_096


def _sync_file_range() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    fn = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
        fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _sync_file_range()
_SYNC_FILE_RANGE_WRITE: Final = 2


def start_writeback(path: Path) -> None:
    """Ask the kernel to start writing the file's dirty pages now (Linux
    ``sync_file_range``, which does not wait), so that a later fsync finds little left to
    write. Durability still comes from that fsync; elsewhere this does nothing."""
    if _SYNC_FILE_RANGE is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        _SYNC_FILE_RANGE(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)
    finally:
        os.close(fd)


@dataclass(slots=True)
class WrittenFile:
    path: Path
    project: str
    date: str
    rows: int = 0
    #: the ``carry`` column's values, in the file's row order (not written to the file)
    carried: list[np.ndarray[Any, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _Partition:
    file: WrittenFile
    writer: pq.ParquetWriter | None = None
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0


class PartitionWriter:
    """Consumes Arrow batches with the file columns plus ``project`` and ``date``."""

    def __init__(self, out_dir: Path, schema: pa.Schema, compression: str = "snappy",
                 max_buffered_rows: int = MAX_BUFFERED_ROWS, carry: str | None = None) -> None:
        self.out_dir = out_dir
        self.carry = carry
        self.max_buffered_rows = max_buffered_rows
        self.schema = schema
        self.columns = schema.names
        self.compression = compression
        self.parts: dict[tuple[str, object], _Partition] = {}
        self.buffered = 0
        self.rows = 0

    # -- splitting ---------------------------------------------------------------
    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        table = pa.Table.from_batches([batch])
        projects, dates = table.column("project"), table.column("date")
        # DuckDB names the zone Etc/UTC; the files keep the schema's own types
        data = table.select(self.columns).cast(self.schema)
        if self.carry is not None:
            data = data.append_column(self.carry, table.column(self.carry))
        if _constant(projects):
            # the usual case: one project, rows in time order, so each day is one run of
            # rows and the batch splits into zero-copy slices
            project = projects[0].as_py()
            runs = pc.run_end_encode(dates.combine_chunks())
            days, ends = runs.values.to_pylist(), runs.run_ends.to_pylist()
            if len(set(days)) == len(days):
                start = 0
                for day, end in zip(days, ends, strict=True):
                    self._buffer(project, day, data.slice(start, end - start))
                    start = end
                touched = {(project, day) for day in days}
                for key, part in self.parts.items():
                    if key not in touched and part.pending_rows >= COLD_FLUSH_ROWS:
                        self._flush(part)
                return
        # rows of a partition scattered over the batch: gather them (a copy)
        keys = pa.StructArray.from_arrays(
            [projects.combine_chunks(), dates.combine_chunks()], ["p", "d"])
        order = pc.sort_indices(pa.table({"p": projects, "d": dates}),
                                [("p", "ascending"), ("d", "ascending")])
        runs = pc.run_end_encode(keys.take(order))
        start = 0
        for key, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            self._buffer(key["p"], key["d"], data.take(order.slice(start, end - start)))
            start = end

    def _buffer(self, project: str, date: object, data: pa.Table) -> None:
        part = self.parts.get((project, date))
        if part is None:
            rel = Path(f"project={project}") / f"date={date}" / f"part-{uuid.uuid4().hex}.parquet"
            part = self.parts[(project, date)] = _Partition(
                WrittenFile(self.out_dir / rel, project, str(date)))
        part.pending.append(data)
        part.pending_rows += data.num_rows
        self.buffered += data.num_rows
        if part.pending_rows >= ROW_GROUP_ROWS:
            self._flush(part)
        while self.buffered > self.max_buffered_rows:
            self._flush(max(self.parts.values(), key=lambda p: p.pending_rows))

    def _flush(self, part: _Partition) -> None:
        if not part.pending:
            return
        table = pa.concat_tables(part.pending)
        if self.carry is not None:
            # a copy: a slice would keep DuckDB's whole exported batch (every column) alive
            part.file.carried.append(_uint64_copy(table.column(self.carry)))
            table = table.drop_columns([self.carry])
        if part.writer is None:
            part.file.path.parent.mkdir(parents=True, exist_ok=True)
            part.writer = pq.ParquetWriter(
                part.file.path, table.schema, compression=self.compression,
                use_dictionary=[c for c in self.columns if c not in NO_DICTIONARY],
                write_statistics=[c for c in self.columns if c not in NO_STATISTICS],
                dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        part.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        start_writeback(part.file.path)
        part.file.rows += table.num_rows
        self.buffered -= part.pending_rows
        part.pending, part.pending_rows = [], 0

    def close(self) -> list[WrittenFile]:
        for part in self.parts.values():
            self._flush(part)
            if part.writer is not None:
                part.writer.close()
                part.writer = None
                start_writeback(part.file.path)
        return [p.file for p in self.parts.values() if p.file.rows]

    def abort(self) -> None:
        for part in self.parts.values():
            if part.writer is not None:
                part.writer.close()
                part.writer = None


def _uint64_copy(values: pa.ChunkedArray) -> np.ndarray[Any, Any]:
    """A numpy copy of a UINT64 column without nulls. ``ChunkedArray.to_numpy`` goes
    through pyarrow's pandas conversion and imports pandas (~0.2 CPU-s, the only import
    of pandas in an import)."""
    if values.type != pa.uint64() or values.null_count:
        return np.array(values.to_numpy())
    out = np.empty(len(values), np.uint64)
    pos = 0
    for chunk in values.chunks:
        n = len(chunk)
        out[pos:pos + n] = np.frombuffer(chunk.buffers()[1], np.uint64, n, chunk.offset * 8)
        pos += n
    return out


def _constant(values: pa.ChunkedArray) -> bool:
    if values.null_count:
        return False
    lo_hi = pc.min_max(values)
    return bool(lo_hi["min"] == lo_hi["max"])


def write_partitioned(
    reader: pa.RecordBatchReader, out_dir: Path, schema: pa.Schema,
    compression: str = "snappy", max_buffered_rows: int = MAX_BUFFERED_ROWS,
    carry: str | None = None,
) -> tuple[int, list[WrittenFile]]:
    """Drain ``reader`` into partition files under ``out_dir``; returns (rows, files).
    ``schema`` names the columns written and their types (all nullable, as DuckDB writes).
    A ``carry`` column is not written but kept per file (``WrittenFile.carried``).

    The writer thread encodes and compresses (pyarrow releases the GIL) while this
    thread pulls the next batches from DuckDB. An error on either side stops both and
    is raised here; the caller removes ``out_dir``."""
    writer = PartitionWriter(out_dir, schema, compression, max_buffered_rows, carry)
    todo: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
    failed: list[BaseException] = []

    def drain() -> None:
        try:
            while (batch := todo.get()) is not None:
                if not failed:
                    writer.add(batch)
        except BaseException as exc:  # handed to the reading thread
            failed.append(exc)
            while todo.get() is not None:  # keep the reader from blocking on a full queue
                pass

    thread = threading.Thread(target=drain, name="cxlens-partition-writer", daemon=True)
    thread.start()
    try:
        try:
            for batch in reader:
                if failed:
                    break
                todo.put(batch)
        finally:
            todo.put(None)
            thread.join()
    except BaseException:
        writer.abort()
        raise
    if failed:
        writer.abort()
        raise failed[0]
    return writer.rows, writer.close()
