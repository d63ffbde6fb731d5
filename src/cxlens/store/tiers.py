"""Size-tiered merging of a day's files while events keep arriving.

The collector appends a small file every round; reading a day of thousands of files is
slow, but re-sorting the whole day every few dozen appends made each append O(day). So
files are merged the way LSM trees do it: a file of ``rows`` rows belongs to tier
``floor(log_K(rows / BASE))``; when ``K`` unsorted files share a tier they are
concatenated into one (no sort: the merged file lands in a higher tier). A day then has
fewer than ``K`` files per tier, O(log n) in all, and each event is rewritten once per
tier it climbs, O(log n) amortised. Sorting by (person, timestamp) stays with
``cxlens compact``; its sorted files are left alone here.

A merge is atomic like any write: the merged file and its index run are written and
fsynced first, then one catalog commit swaps it for its inputs, which stay on disk for
the readers that listed them until their grace is over (store/retired.py).
"""

from __future__ import annotations

import math
import time
import uuid
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.parquet as pq

from cxlens.store import eventindex, retired
from cxlens.store.catalog import FileEntry
from cxlens.store.partitions import DICTIONARY_PAGE_BYTES, NO_DICTIONARY, NO_STATISTICS

if TYPE_CHECKING:
    import duckdb

    from cxlens.store.workspace import Workspace

#: files below this many rows are all tier 0
BASE_ROWS: Final = 1_024
#: 8: each event is rewritten ~log8(n / batch) times (about 3 for a 20M-event day of
#: 50k-event appends, ~1.2 CPU-µs per row each), a day keeps under 8 files per tier
DEFAULT_FANIN: Final = 8
_READ_ROWS: Final = 32_768
#: row groups of merged files (appends pull smaller batches from DuckDB, see BATCH_ROWS)
_MERGE_GROUP_ROWS: Final = 131_072


def tier(rows: int, fanin: int, base: int = BASE_ROWS) -> int:
    return 0 if rows < base else int(math.log(rows / base, fanin)) + 1


def next_merge(files: list[FileEntry], fanin: int) -> list[FileEntry]:
    """The files of one partition to merge next: those of the lowest tier that has
    ``fanin`` unsorted files (empty when none has)."""
    by_tier: dict[int, list[FileEntry]] = {}
    for f in files:
        if not f.sorted:
            by_tier.setdefault(tier(f.rows, fanin), []).append(f)
    for t in sorted(by_tier):
        if len(by_tier[t]) >= fanin:
            return sorted(by_tier[t], key=lambda f: (f.rows, f.path))[:fanin]
    return []


def merge_partitions(ws: Workspace, con: duckdb.DuckDBPyConnection,
                     parts: set[tuple[str, str]], fanin: int) -> int:
    """Merge the given (project, day) partitions until no tier is full; returns the
    number of merges."""
    done = 0
    fp = eventindex.fingerprint(con)
    for project, part in sorted(parts):
        while group := next_merge(ws.catalog.files_in("events", project, [part]), fanin):
            _merge(ws, con, project, part, group, fp)
            done += 1
    return done


def _merge(ws: Workspace, con: duckdb.DuckDBPyConnection, project: str, part: str,
           group: list[FileEntry], fp: int) -> None:
    from cxlens.store.workspace import _WRITE_SCHEMA, _fsync_dir, _fsync_file

    dictionary = [c for c in _WRITE_SCHEMA.names if c not in NO_DICTIONARY]
    statistics = [c for c in _WRITE_SCHEMA.names if c not in NO_STATISTICS]

    batch_id = ws.catalog.start_batch("merge", "merge", project)
    runs = [run for _, run in eventindex.runs_for(con, ws.root, group, fp)]
    tmp = ws.root / "_tmp" / f"merge-{uuid.uuid4().hex}.parquet"
    offsets, rows = [], 0
    try:
        # the append files' encoding rules (store/partitions.py): no dictionary for the
        # (nearly) unique columns, no statistics for the JSON text, dictionary pages large
        # enough for a merged file's context texts (at the default 1 MB they overflowed and
        # the rest of the chunk went plain: 8 files of 40k collector events with 5,000
        # landing pages merged to 1,674 KB, with the larger pages 889 KB, 4 % less CPU)
        with pq.ParquetWriter(tmp, _WRITE_SCHEMA, compression="zstd", use_dictionary=dictionary,
                              write_statistics=statistics,
                              dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES) as writer:
            pending: list[pa.Table] = []
            pending_rows = 0
            for f in group:
                offsets.append(rows)
                pf = pq.ParquetFile(ws.root / f.path)
                # small reads and row groups of _MERGE_GROUP_ROWS: a merge's memory stays a
                # few hundred thousand decoded rows, whatever the size of its inputs
                # one thread: the collector's writer shares the cores with the request path,
                # and Arrow's decoding threads cost a third more CPU for these small files
                for batch in pf.iter_batches(batch_size=_READ_ROWS, columns=_WRITE_SCHEMA.names,
                                             use_threads=False):
                    table = pa.Table.from_batches([batch]).cast(_WRITE_SCHEMA)
                    rows += table.num_rows
                    pending.append(table)
                    pending_rows += table.num_rows
                    if pending_rows >= _MERGE_GROUP_ROWS:
                        writer.write_table(pa.concat_tables(pending), row_group_size=_MERGE_GROUP_ROWS)
                        pending, pending_rows = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=_MERGE_GROUP_ROWS)
        expected = sum(f.rows for f in group)
        if rows != expected:  # never lose data to a bug here
            raise _lost_rows(project, part, rows, expected)
        _fsync_file(tmp)
        dest = ws.root / "events" / f"project={project}" / f"date={part}" / (
            f"part-m{batch_id}-{uuid.uuid4().hex[:8]}.parquet")
        rel = dest.relative_to(ws.root).as_posix()
        eventindex.write_merged_run(eventindex.run_path(ws.root, rel), runs, offsets, fp)
        tmp.rename(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(dest.parent)
    now = time.time()
    with ws.catalog.transaction() as db:
        # the inputs stay on disk for readers that listed them (store/retired.py)
        retired.retire(db, [f.path for f in group], now)
        db.execute(
            "INSERT INTO files (path, tbl, project, part, rows, bytes, batch_id, created_at, sorted)"
            " VALUES (?, 'events', ?, ?, ?, ?, ?, ?, 0)",
            (rel, project, part, rows, dest.stat().st_size, batch_id, now))
        db.execute(
            "UPDATE batches SET finished_at = ?, rows_in = ?, inserted = ?, detail = ? WHERE id = ?",
            (time.time(), rows, rows, f'{{"files": {len(group)}, "partition": "{part}"}}', batch_id))
    eventindex.drop_runs(ws.root, [f.path for f in group])


def _lost_rows(project: str, part: str, rows: int, expected: int) -> Exception:
    from cxlens.errors import CxError

    return CxError(f"merging the files of {project}/{part} read {rows} rows, expected {expected};"
                   " nothing was changed, run cxlens compact to rewrite the day")
