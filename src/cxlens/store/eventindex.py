"""An index of event ids per event file, so an append finds its duplicates in
O(batch · log day) instead of reading every id the day already holds.

Each live event file has a *run* under ``<ws>/index/`` (outside ``events/``, so Spark's
and DuckDB's globs never see it): the 64-bit DuckDB ``hash(event_id)`` of every row,
sorted, with the row's position in the file. Event files are immutable and uniquely
named, so a run is a pure function of its file and the two cannot disagree: a run whose
file is not live is garbage (removed), and a live file without a valid run (missing,
truncated, written by another DuckDB's hash function) gets it rebuilt from the Parquet.

The index is only a pre-filter. A hash hit is confirmed by reading the exact event_id at
the hit rows (only the row groups that hold them), so a collision never drops a row and
a run never needs to be trusted beyond "these hashes are at these rows".

Only the writer, holding the workspace's writer lock, reads or writes runs.
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxlens.store.catalog import FileEntry

INDEX_DIR: Final = "index"
#: the hash both the append stream and a rebuild compute (the same function, the same values)
HASH_SQL: Final = "hash(event_id)"
_MAGIC: Final = b"CXIDX001"
_HEADER: Final = struct.Struct("<8sQQQ")  # magic, rows, hash fingerprint, reserved
#: hash-space slices a merge works in, so its memory is a fraction of the runs it merges
_MERGE_SLICES: Final = 16

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class Run:
    hashes: U64  # sorted
    rows: U32  # the row in its file of each hash

    def __len__(self) -> int:
        return len(self.hashes)


def fingerprint(con: duckdb.DuckDBPyConnection) -> int:
    """Identifies the hash function: a DuckDB upgrade that changes ``hash()`` makes every
    run stale (rebuilt) instead of silently wrong."""
    rows = con.execute("SELECT hash(?)", ["cxlens event index probe"]).fetchall()
    return int(rows[0][0])


def run_path(root: Path, data_rel: str) -> Path:
    """``events/project=P/date=D/x.parquet`` -> ``<root>/index/events/project=P/date=D/x.idx``."""
    return root / INDEX_DIR / Path(data_rel).with_suffix(".idx")


def sort_run(hashes_in_row_order: npt.NDArray[np.uint64]) -> Run:
    order = np.argsort(hashes_in_row_order)
    return Run(hashes_in_row_order[order], order.astype(np.uint32))


def write_run(path: Path, run: Run, fp: int) -> None:
    """Write atomically and durably (before the catalog commit that makes its file live)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".idx.tmp")
    with tmp.open("wb") as f:
        f.write(_HEADER.pack(_MAGIC, len(run), fp, 0))
        f.write(np.ascontiguousarray(run.hashes, dtype="<u8").tobytes())
        f.write(np.ascontiguousarray(run.rows, dtype="<u4").tobytes())
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def load_run(path: Path, rows: int, fp: int) -> Run | None:
    """The run, memory-mapped (pages come from the page cache, not the heap), or None
    when it is missing or does not belong to a file of ``rows`` rows under this hash."""
    try:
        with path.open("rb") as f:
            header = f.read(_HEADER.size)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return None
    if len(header) != _HEADER.size:
        return None
    magic, n, file_fp, _ = _HEADER.unpack(header)
    if magic != _MAGIC or n != rows or file_fp != fp or size != _HEADER.size + 12 * n:
        return None
    if n == 0:
        return Run(np.empty(0, np.uint64), np.empty(0, np.uint32))
    hashes = np.memmap(path, dtype="<u8", mode="r", offset=_HEADER.size, shape=(n,))
    rows_ = np.memmap(path, dtype="<u4", mode="r", offset=_HEADER.size + 8 * n, shape=(n,))
    return Run(hashes, rows_)  # type: ignore[arg-type]


def build_run(con: duckdb.DuckDBPyConnection, data_path: Path) -> Run:
    """Compute a file's run from the Parquet (one pass over its event_id column)."""
    table = con.sql(
        f"SELECT {HASH_SQL} AS h, file_row_number AS r FROM read_parquet(?, file_row_number = true)",
        params=[str(data_path)],
    ).to_arrow_table()
    hashes = table.column("h").to_numpy().astype(np.uint64, copy=False)
    rows = table.column("r").to_numpy()
    order = np.argsort(hashes)
    return Run(hashes[order], rows[order].astype(np.uint32))


def runs_for(
    con: duckdb.DuckDBPyConnection, root: Path, files: list[FileEntry], fp: int
) -> list[tuple[FileEntry, Run]]:
    """The runs of ``files``, rebuilding any that is not valid."""
    out = []
    for f in files:
        path = run_path(root, f.path)
        run = load_run(path, f.rows, fp)
        if run is None:
            run = build_run(con, root / f.path)
            write_run(path, run, fp)
        out.append((f, run))
    return out


def prune(root: Path, project: str, part: str, live: list[FileEntry]) -> None:
    """Remove the runs of one partition whose file is no longer live (erasure and
    compaction retire files without touching the index)."""
    directory = root / INDEX_DIR / "events" / f"project={project}" / f"date={part}"
    keep = {run_path(root, f.path).name for f in live}
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name not in keep:
            (directory / name).unlink(missing_ok=True)


def drop_runs(root: Path, data_rels: list[str]) -> None:
    """Remove the runs of retired files (a leftover would only cost disk: never read)."""
    for rel in data_rels:
        path = run_path(root, rel)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the day still has other runs
            path.parent.rmdir()


def collect_garbage(root: Path, live_rels: set[str]) -> None:
    """Remove every run whose file is not live (after a crash, erasure, retention)."""
    index = root / INDEX_DIR
    if not index.exists():
        return
    live = {run_path(root, rel) for rel in live_rels}
    for dirpath, _dirs, names in os.walk(index, topdown=False):
        for name in names:
            path = Path(dirpath) / name
            if path not in live:
                path.unlink(missing_ok=True)
        if Path(dirpath) != index:
            with contextlib.suppress(OSError):
                Path(dirpath).rmdir()


# -- finding duplicates ---------------------------------------------------------------
def _hits(run: Run, queries: U64) -> tuple[U32, U64]:
    """Rows of ``run`` whose hash is in ``queries`` (sorted, unique), and those hashes."""
    n = len(run)
    if n == 0 or len(queries) == 0:
        return np.empty(0, np.uint32), np.empty(0, np.uint64)
    lo = np.searchsorted(run.hashes, queries, "left")
    found = run.hashes[np.minimum(lo, n - 1)] == queries
    if not found.any():
        return np.empty(0, np.uint32), np.empty(0, np.uint64)
    q = queries[found]
    lo = lo[found]
    hi = np.searchsorted(run.hashes, q, "right")
    # every position in [lo, hi) of each hit, vectorised (a re-import hits every row)
    lengths = hi - lo
    starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
    positions = starts + np.arange(int(lengths.sum()))
    return np.asarray(run.rows[positions], np.uint32), q


def read_rows(path: Path, rows: npt.NDArray[np.integer], columns: list[str]) -> pa.Table:
    """``columns`` of the given rows of a Parquet file, plus ``__row``; reads only the row
    groups that hold them."""
    pf = pq.ParquetFile(path)
    sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rows = np.asarray(rows, np.int64)
    groups = np.searchsorted(starts, rows, "right") - 1
    parts = []
    for g in np.unique(groups).tolist():
        sel = rows[groups == g]
        part = pf.read_row_group(g, columns=columns).take(pa.array(sel - starts[g]))
        parts.append(part.append_column("__row", pa.array(sel)))
    if not parts:
        return pa.table({c: pa.array([], pf.schema_arrow.field(c).type) for c in columns}
                        | {"__row": pa.array([], pa.int64())})
    return pa.concat_tables(parts)


def duplicate_rows(root: Path, new_path: Path, new: Run, existing: list[tuple[FileEntry, Run]]) -> U32:
    """Rows of the new file to drop: those whose event_id is already stored in ``existing``
    files of the partition, and all but the earliest-received of ids repeated in the file."""
    h = new.hashes
    repeated = np.zeros(len(h), bool)
    if len(h) > 1:
        same = h[1:] == h[:-1]
        repeated[1:] |= same
        repeated[:-1] |= same
    unique = h[np.concatenate([[True], h[1:] != h[:-1]])] if len(h) else h
    stored_ids: list[pa.Array] = []
    hit_hashes: list[U64] = []
    for entry, run in existing:
        rows, hashes = _hits(run, unique)
        if len(rows):
            stored_ids.append(read_rows(root / entry.path, rows, ["event_id"]).column(0).combine_chunks())
            hit_hashes.append(hashes)
    candidates = repeated
    if hit_hashes:
        candidates = candidates | np.isin(h, np.concatenate(hit_hashes))
    if not candidates.any():
        return np.empty(0, np.uint32)
    table = read_rows(new_path, new.rows[candidates], ["event_id", "received_at"])
    drop: list[npt.NDArray[np.int64]] = []
    if stored_ids:
        stored = pc.is_in(table.column("event_id"), value_set=pa.concat_arrays(stored_ids))
        drop.append(table.column("__row").filter(stored).to_numpy())
        table = table.filter(pc.invert(stored))
    if table.num_rows > 1:
        table = table.sort_by([("event_id", "ascending"), ("received_at", "ascending"),
                               ("__row", "ascending")])
        ids = table.column("event_id").combine_chunks()
        again = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1)).fill_null(False)
        drop.append(table.column("__row").slice(1).filter(again).to_numpy())
    return np.concatenate(drop).astype(np.uint32) if drop else np.empty(0, np.uint32)


def without_rows(path: Path, drop: U32, out: Path, run: Run) -> tuple[int, Run]:
    """Copy ``path`` to ``out`` without the ``drop`` rows; returns the rows kept and the
    run of ``out``. Nothing is written when no row is kept."""
    pf = pq.ParquetFile(path)
    n = pf.metadata.num_rows
    keep = np.ones(n, bool)
    keep[drop] = False
    kept = int(keep.sum())
    if kept:
        with pq.ParquetWriter(out, pf.schema_arrow, compression="snappy") as writer:
            start = 0
            for g in range(pf.num_row_groups):
                table = pf.read_row_group(g)
                mask = keep[start:start + table.num_rows]
                start += table.num_rows
                if mask.any():
                    writer.write_table(table.filter(pa.array(mask)))
    position = np.cumsum(keep) - 1
    entries = keep[run.rows]
    return kept, Run(run.hashes[entries], position[run.rows[entries]].astype(np.uint32))


def write_merged_run(path: Path, runs: list[Run], offsets: list[int], fp: int) -> None:
    """The run of files concatenated in order (row offsets ``offsets``), merged one slice
    of the hash space at a time so memory stays a fraction of the runs' size."""
    n = sum(len(r) for r in runs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".idx.tmp")
    with tmp.open("wb") as f:
        f.write(_HEADER.pack(_MAGIC, n, fp, 0))
        f.truncate(_HEADER.size + 12 * n)
    if n:
        hashes = np.memmap(tmp, dtype="<u8", mode="r+", offset=_HEADER.size, shape=(n,))
        rows = np.memmap(tmp, dtype="<u4", mode="r+", offset=_HEADER.size + 8 * n, shape=(n,))
        bounds = [np.uint64(i << (64 - 4)) for i in range(1, _MERGE_SLICES)]
        cuts = [[0, *np.searchsorted(r.hashes, bounds, "left").tolist(), len(r)] for r in runs]
        at = 0
        for s in range(_MERGE_SLICES):
            h = np.concatenate([r.hashes[c[s]:c[s + 1]] for r, c in zip(runs, cuts, strict=True)])
            if not len(h):
                continue
            w = np.concatenate([np.asarray(r.rows[c[s]:c[s + 1]], np.uint64) + off
                                for r, c, off in zip(runs, cuts, offsets, strict=True)])
            order = np.argsort(h, kind="stable")  # a few sorted runs: a timsort merge
            hashes[at:at + len(h)] = h[order]
            rows[at:at + len(h)] = w[order]
            at += len(h)
        hashes.flush()
        rows.flush()
        del hashes, rows
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
