"""``cxlens import``: files from other systems into the workspace, in one batch each.

Every importer follows the same contract: find the bad rows first (each with row,
column and reason), then either abort with nothing written (strict) or write the good
rows in one atomic, idempotent append and the bad ones to a rejects file that the
import history names. The whole import holds the workspace's writer lock, so the
check and the write see the same workspace.
"""

from __future__ import annotations

import gzip
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson
import pyarrow as pa

from cxlens.errors import BadRowsError, ImportError_, MappingError
from cxlens.ingest.mapping import Mapping, check_fields, load_mapping
from cxlens.ingest.rejects import Reject, ascii_name, rejects_name, summarize, write_rejects
from cxlens.store.workspace import Workspace

#: bad rows kept in memory to show and to put into a --strict error
HEAD_REJECTS: Final = 1000
FORMATS: Final = ("csv", "jsonl", "parquet", "segment", "xes", "orders")
#: progress callback: (phase, fraction done or None when unknown)
Progress = Callable[[str, float | None], None]


@dataclass(frozen=True, slots=True)
class ImportReport:
    file: str
    format: str
    project: str
    source: str
    rows_read: int
    inserted: int
    duplicates: int
    rejected: int
    rejects_file: str | None
    batch_id: int | None
    seconds: float
    events_per_second: float
    #: seconds spent finding bad rows, and in the store's append
    check_seconds: float
    append_seconds: float
    #: the first few bad rows, described ("line 7, column when: cannot parse ...")
    first_rejects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, fmt in ((".csv", "csv"), (".tsv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                        (".parquet", "parquet"), (".xes", "xes"), (".json", "segment")):
        if name.endswith(suffix):
            return fmt
    if name.endswith((".xlsx", ".xls", ".xlsm", ".ods")):
        raise ImportError_(f"{path.name} is a spreadsheet workbook; save the sheet as CSV "
                           "(Excel: 'CSV UTF-8') and import that")
    raise ImportError_(f"cannot tell the format of {path.name}; pass --format "
                       f"({'|'.join(FORMATS)})")


def default_source(path: Path, fmt: str) -> str:
    stem = ascii_name(path.name)[:100].strip("_.-") or "file"
    return f"import:{fmt}:{stem}"


def import_file(
    ws: Workspace,
    path: str | Path,
    *,
    format: str | None = None,
    mapping: Mapping | str | Path | None = None,
    project: str | None = None,
    source: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file; returns the report. Raises CxError for the user's mistakes."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise ImportError_(f"{file} is a directory; pass one file (import each file of it in turn)")
    if not file.is_file():
        raise ImportError_(f"{file} not found; pass the path of an existing file")
    m = load_mapping(mapping) if isinstance(mapping, str | Path) else mapping
    # --format wins, then the mapping's own format (an [orders] section says orders), then
    # the file name
    fmt = (format or (m.format if m is not None else None)
           or ("orders" if m is not None and "orders" in m.extra else None) or guess_format(file))
    if fmt not in FORMATS:
        raise ImportError_(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if m is not None and (m.fields or m.context) and fmt in ("segment", "xes"):
        # they were ignored: a .json file of one's own events was read as a Segment archive
        # and every line rejected for its missing "type"
        how = ("Segment/RudderStack messages are read by the Segment spec; for JSON Lines of "
               "your own events pass --format jsonl" if fmt == "segment"
               else "an XES log is read by its [xes] section (docs/importing.md)")
        raise MappingError(f"the mapping's [fields]/[context] are for csv, jsonl, parquet and orders "
                           f"files, and {file.name} is read as {fmt}: {how}", field="format")
    proj = project or ws.default_project
    src_name = source or default_source(file, fmt)
    started = time.perf_counter()
    with ws.writing():
        if fmt in ("csv", "jsonl", "parquet", "orders"):
            run = _import_tabular
        elif fmt == "xes":
            run = _import_xes
        else:
            run = _import_segment
        try:
            result = run(ws, file, fmt, m, proj, src_name, strict, progress)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # from the gzip readers; an EOFError left alone reaches click, which takes it
            # for Ctrl-D and says "aborted"
            raise ImportError_(f"{file.name} is cut off or not valid gzip ({exc}); nothing was "
                               "imported; copy the whole file again") from exc
    inserted, duplicates, rejected, rejects_file, batch, check_s, append_s, rows, first = result
    seconds = time.perf_counter() - started
    return ImportReport(
        file=str(file), format=fmt, project=proj, source=src_name, rows_read=rows,
        inserted=inserted, duplicates=duplicates, rejected=rejected, rejects_file=rejects_file,
        batch_id=batch, seconds=round(seconds, 3),
        events_per_second=round(rows / seconds, 1) if seconds > 0 else 0.0,
        check_seconds=round(check_s, 3), append_seconds=round(append_s, 3), first_rejects=first,
    )


_Result = tuple[int, int, int, str | None, int | None, float, float, int, tuple[str, ...]]


def _finish(
    ws: Workspace,
    make_data: Callable[[], pa.Table | duckdb.DuckDBPyRelation],
    file: Path,
    fmt: str,
    proj: str,
    src_name: str,
    strict: bool,
    head: list[Reject],
    rest: Iterator[Reject],
    check_s: float,
    progress: Progress | None,
    dictionary_encoded: bool = False,
) -> _Result:
    """Strict check, rejects file, then the one append (under the held writer lock).

    ``head`` are the first bad rows, ``rest`` the others, still streaming."""
    if strict and head:
        total = len(head) + sum(1 for _ in rest)
        raise BadRowsError(
            f"{total} bad rows in {file.name}, nothing was imported: {summarize(head, 3)}"
            " (drop --strict to import the good rows)",
            rejects=[r.to_dict() for r in head],
        )
    rejects_rel: str | None = None
    dest: Path | None = None
    n_rejects = 0
    if head:
        dest, n_rejects = write_rejects(chain(head, rest), ws.root / "rejects" / rejects_name(file))
        rejects_rel = dest.relative_to(ws.root).as_posix()
    detail = orjson.dumps({"file": str(file), "format": fmt, "rejected": n_rejects}).decode()
    t0 = time.perf_counter()
    try:
        with _polling(ws, "writing events", progress):
            res = ws.append(make_data(), source=src_name, project=proj, kind="import",
                            rejected=n_rejects, rejects_path=rejects_rel, detail=detail,
                            locked=True, dictionary_encoded=dictionary_encoded)
    except BaseException:
        if dest is not None:  # the batch was not recorded, so its rejects file goes too
            dest.unlink(missing_ok=True)
        raise
    append_s = time.perf_counter() - t0
    return (res.inserted, res.duplicates, n_rejects, rejects_rel, res.batch_id, check_s,
            append_s, res.rows_in + n_rejects, tuple(r.describe() for r in head[:3]))


def _import_tabular(
    ws: Workspace, file: Path, fmt: str, m: Mapping | None, proj: str, src_name: str,
    strict: bool, progress: Progress | None,
) -> _Result:
    from cxlens.ingest.orders import orders_mapping
    from cxlens.ingest.sources import open_source, read_error
    from cxlens.ingest.tabular import build_query, dictionary_encoded_inputs, find_rejects

    kind = fmt
    if fmt == "orders":
        kind = "parquet" if file.name.lower().endswith(".parquet") else "csv"
    elif m is None:
        raise MappingError(
            f"--format {fmt} needs --mapping FILE naming the timestamp, event and person columns;"
            " see docs/importing.md and examples/mappings/"
        )
    csv_opts = m.csv if m is not None else Mapping(fields={}).csv
    if kind == "csv" and file.suffix.lower() == ".tsv" and (m is None or "csv" not in m.extra):
        from dataclasses import replace

        if csv_opts.delimiter == ",":
            csv_opts = replace(csv_opts, delimiter="\t")
    src = open_source(ws.con, file, kind, csv_opts, ws.root / "_tmp")
    try:
        if fmt == "orders":
            m = orders_mapping(m, src.columns)
        assert m is not None
        check_fields(m.fields, "mapping")
        query = build_query(m, src)
        t0 = time.perf_counter()
        with _polling(ws, "checking rows", progress):
            found = find_rejects(ws.con, query)
            head = list(islice(found, HEAD_REJECTS))
        check_s = time.perf_counter() - t0
        try:
            # the write relation is made only after the rejects are read to the end: the
            # check pass holds the connection until then
            return _finish(ws, lambda: ws.con.sql(query.write_sql()), file, fmt, proj, src_name,
                           strict, head, found, check_s, progress,
                           dictionary_encoded_inputs(ws.con, m, src))
        except duckdb.Error as exc:
            raise read_error(file, f"cannot import {file.name}", exc) from exc
    finally:
        if src.origin is not None:  # the UTF-8 copy of a file in another encoding
            src.path.unlink(missing_ok=True)


def _import_xes(
    ws: Workspace, file: Path, fmt: str, m: Mapping | None, proj: str, src_name: str,
    strict: bool, progress: Progress | None,
) -> _Result:
    from cxlens.ingest.xes import XesOptions, read_xes

    opts = XesOptions.from_mapping(m.extra.get("xes") if m else None)
    rejects: list[Reject] = []

    def report(fraction: float) -> None:
        if progress is not None:
            progress("reading XES", fraction)

    t0 = time.perf_counter()
    chunks = read_xes(file, opts, rejects, report)
    return _spool_and_finish(ws, chunks, file, fmt, proj, src_name, strict, rejects, t0, progress)


def _spool_and_finish(
    ws: Workspace, chunks: Iterator[pa.Table], file: Path, fmt: str, proj: str, src_name: str,
    strict: bool, rejects: list[Reject], t0: float, progress: Progress | None,
) -> _Result:
    """Write parsed chunks to a temporary Parquet file (flat memory), then append it.

    The file lives under ``_tmp`` while we hold the writer lock; crash recovery removes
    it if we die."""
    import pyarrow.parquet as pq

    tmp = ws.root / "_tmp" / f"import-{uuid.uuid4().hex}.parquet"
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in chunks:
            if writer is None:
                writer = pq.ParquetWriter(tmp, chunk.schema, compression="zstd")
            writer.write_table(chunk)
        if writer is not None:
            writer.close()
            writer = None
            data: pa.Table | duckdb.DuckDBPyRelation = ws.con.read_parquet(str(tmp))
        else:
            data = pa.table({"timestamp": pa.array([], type=pa.timestamp("us", tz="UTC"))})
        check_s = time.perf_counter() - t0
        return _finish(ws, lambda: data, file, fmt, proj, src_name, strict, rejects[:HEAD_REJECTS],
                       iter(rejects[HEAD_REJECTS:]), check_s, progress)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)


def _import_segment(
    ws: Workspace, file: Path, fmt: str, m: Mapping | None, proj: str, src_name: str,
    strict: bool, progress: Progress | None,
) -> _Result:
    from cxlens.ingest.archives import read_segment_archive

    rejects: list[Reject] = []
    t0 = time.perf_counter()
    chunks = read_segment_archive(file, rejects)
    return _spool_and_finish(ws, chunks, file, fmt, proj, src_name, strict, rejects, t0, progress)


class _polling:
    """Report DuckDB's progress of the running query from a helper thread."""

    def __init__(self, ws: Workspace, phase: str, progress: Progress | None) -> None:
        self.ws, self.phase, self.progress = ws, phase, progress
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> None:
        if self.progress is None:
            return
        self.progress(self.phase, None)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        assert self.progress is not None
        con = self.ws.con
        while not self.stop.wait(0.2):
            try:
                pct = float(con.query_progress())
            except duckdb.Error:
                continue
            if pct >= 0:
                self.progress(self.phase, min(pct / 100.0, 1.0))

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.progress is not None and exc[0] is None:
            self.progress(self.phase, 1.0)
