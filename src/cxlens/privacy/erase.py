"""Right to erasure: remove a person from every file of the workspace.

What is removed: every row that names one of the person's ids (user ids, anonymous
ids, e-mail addresses, other declared ids, the person_id) in any text column, in
every Parquet file under the workspace: events, identities, the id map, profiles,
accounts rows naming them, feedback, ground truth and derived results. A Parquet file
with such rows is rewritten without them under ``_tmp``, fsynced and swapped in: files
the catalog lists are swapped in one catalog transaction (as compaction does) and the
old ones deleted at once, other files by an atomic rename; that includes the files merges
retired and keep on disk for readers during their grace (store/retired.py), so no
grace-period file keeps the person. Running collectors are asked first (``wal_erasure``): their
WAL drainers drop the person's rows before appending and confirm; segments of dead
collectors are rewritten record by record through the WAL's own reader and encoder;
other text files lose the lines that name the person. Everything after the
collectors' confirmation runs under the workspace writer lock.

Afterwards every file is checked again (Parquet by its decoded values, everything
else by its raw bytes); what still names the person is reported as ``leftovers``.
The audit record in the catalog holds a salted hash of the request, counts and the
time, no personal data.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson
import pyarrow.parquet as pq

from cxlens.errors import NotFound, ValidationError
from cxlens.identity.resolve import person_of
from cxlens.ingest import wal, wal_erasure
from cxlens.store.workspace import Workspace, _fsync_dir, _fsync_file

MIN_NEEDLE = 3  # shorter ids would match unrelated text
# index/ holds only 64-bit hashes of event ids (store/eventindex.py); runs of rewritten
# files are dropped and rebuilt by the store
_SKIP_DIRS = {"_tmp", "index"}
_SKIP_FILES = {"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", ".writer.lock", "cxlens.toml"}


@dataclass(frozen=True, slots=True)
class EraseResult:
    project: str
    subject_hash: str
    ids: int
    rows_removed: dict[str, int] = field(default_factory=dict)
    files_rewritten: int = 0
    wal_records_rewritten: int = 0
    leftovers: list[str] = field(default_factory=list)
    seconds: float = 0.0


def subject_ids(ws: Workspace, project: str, id_: str) -> tuple[str | None, list[str]]:
    """The person's person_id and every id it has (or just ``id_`` when unresolved)."""
    try:
        person, ids = person_of(ws, project, id_)
    except NotFound:
        return None, [id_]
    return person, sorted({i["id"] for i in ids} | {person, id_})


def _pattern(needles: list[str]) -> str:
    # an id counts only as a whole token: "u-1" must not match "u-10"
    alts = "|".join(re.escape(n.lower()) for n in sorted(needles, key=len, reverse=True))
    return f"(^|[^a-z0-9])({alts})($|[^a-z0-9])"


def _text_columns(path: Path) -> list[str]:
    schema = pq.read_schema(path)
    out = []
    for f in schema:
        t = str(f.type)
        if "string" in t or "binary" in t or t.startswith(("list", "struct", "large_list", "map")):
            out.append(f.name)
    return out


def _match_sql(cols: list[str]) -> str:
    quoted = [f'"{c.replace(chr(34), chr(34) * 2)}"' for c in cols]  # names come from the file
    # coalesce: a NULL column must count as "does not name the person", or NOT(...) drops the row
    return " OR ".join(f"coalesce(regexp_matches(lower(CAST({q} AS VARCHAR)), $pat), false)"
                       for q in quoted) or "false"


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"  # a path cxlens walked, not user text


def _scan_parquet(con: duckdb.DuckDBPyConnection, path: Path, pattern: str) -> int:
    cols = _text_columns(path)
    if not cols:
        return 0
    rows = con.execute(
        f"SELECT count(*) FROM read_parquet({_sql_path(path)}, hive_partitioning = false)"
        f" WHERE {_match_sql(cols)}", {"pat": pattern}).fetchall()
    return int(rows[0][0])


def _rewrite_parquet(con: duckdb.DuckDBPyConnection, path: Path, pattern: str, tmp: Path) -> int:
    """Write ``path`` without matching rows to ``tmp``; returns rows kept."""
    cols = _text_columns(path)
    con.execute(
        f"COPY (SELECT * FROM read_parquet({_sql_path(path)}, hive_partitioning = false)"
        f" WHERE NOT ({_match_sql(cols)})) TO {_sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd)",
        {"pat": pattern}).fetchall()
    _fsync_file(tmp)
    return int(pq.ParquetFile(tmp).metadata.num_rows)


def _walk(root: Path) -> list[Path]:
    out = []
    requests = root / "wal" / wal_erasure.ERASE_DIR  # erase requests in progress
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and Path(dirpath, d) != requests]
        for name in filenames:
            out.append(Path(dirpath) / name)
    return sorted(out)


def _table_of(rel: str) -> str:
    parts = rel.split("/")
    return parts[1] if parts[0] == "tables" and len(parts) > 1 else parts[0]


def _rewrite_wal(path: Path, regex: re.Pattern[bytes]) -> tuple[int, int]:
    """Rewrite a WAL segment without the rows naming the person: (records, rows) dropped."""
    kept: list[bytes] = []
    dropped_rows = changed = 0
    for project, rows in wal.read_segment(path):
        keep = [r for r in rows if not regex.search(orjson.dumps(r).lower())]
        if len(keep) != len(rows):
            changed += 1
            dropped_rows += len(rows) - len(keep)
        if keep:
            kept.append(wal.encode_record(project, keep))  # type: ignore[arg-type]
    if not changed:
        return 0, 0
    tmp = path.with_name(path.name + ".erase-tmp")
    tmp.write_bytes(b"".join(kept))
    _fsync_file(tmp)
    tmp.replace(path)
    _fsync_dir(path.parent)
    return changed, dropped_rows


def _rewrite_lines(path: Path, regex: re.Pattern[bytes]) -> int:
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    keep = [ln for ln in lines if not regex.search(ln.lower())]
    if len(keep) == len(lines):
        return 0
    tmp = path.with_name(path.name + ".erase-tmp")
    tmp.write_bytes(b"".join(keep))
    _fsync_file(tmp)
    tmp.replace(path)
    return len(lines) - len(keep)


def erase(ws: Workspace, project: str | None, id_: str) -> EraseResult:
    """Remove the person having ``id_`` from every file of the workspace (see module doc)."""
    project = project or ws.default_project
    if not id_.strip():
        raise ValidationError("give the id of the person to erase (user id, e-mail, anonymous id)")
    t0 = time.perf_counter()
    _person, ids = subject_ids(ws, project, id_)
    needles = [i for i in ids if len(i) >= MIN_NEEDLE]
    if not needles:
        raise ValidationError(f"{id_!r} is too short to be searched for safely; give a longer id")
    pattern = _pattern(needles)
    regex = re.compile(pattern.encode())
    # running collectors drop the rows first (they need the writer lock to confirm)
    with wal_erasure.erasing(ws.root / "wal", pattern) as collectors, ws.writing():
        con = ws.con
        removed: dict[str, int] = {}
        rewritten = wal_records = 0
        live = {f.path: f for tbl in _catalog_tables(ws) for f in ws.catalog.live_files(tbl)}
        swaps: list[tuple[str, Path, Path, int]] = []  # (old rel path, tmp, dest, rows)
        batch_id = ws.catalog.start_batch("erase", "privacy", project)
        for path in _walk(ws.root):
            rel = path.relative_to(ws.root).as_posix()
            if path.name in _SKIP_FILES:
                continue
            if path.suffix == ".parquet":
                hits = _scan_parquet(con, path, pattern)
                if not hits:
                    continue
                tmp = ws.root / "_tmp" / f"erase-{uuid.uuid4().hex}.parquet"
                kept = _rewrite_parquet(con, path, pattern, tmp)
                removed[_table_of(rel)] = removed.get(_table_of(rel), 0) + hits
                rewritten += 1
                if rel in live:
                    dest = path.with_name(f"{_table_of(rel)}-e{batch_id}-{uuid.uuid4().hex[:8]}.parquet")
                    swaps.append((rel, tmp, dest, kept))
                else:
                    tmp.replace(path)  # not in the catalog: an atomic rename is the commit
                    _fsync_dir(path.parent)
            elif rel.startswith("wal/") and path.name.startswith("seg-"):
                if collectors.is_live_writer_file(path):
                    continue  # a running collector's: its drainer dropped the rows
                recs, rows = _rewrite_wal(path, regex)
                wal_records += recs
                if rows:
                    removed["wal"] = removed.get("wal", 0) + rows
                    rewritten += 1
            elif regex.search(path.read_bytes().lower()):
                n = _rewrite_lines(path, regex)
                removed[_table_of(rel)] = removed.get(_table_of(rel), 0) + n
                rewritten += 1
        for _, tmp, dest, _ in swaps:
            tmp.rename(dest)
        for parent in {dest.parent for *_, dest, _ in swaps}:
            _fsync_dir(parent)
        salt = secrets.token_hex(16)
        subject = hashlib.sha256((salt + "\x1f" + project + "\x1f" + id_).encode()).hexdigest()
        now = time.time()
        with ws.catalog.transaction() as db:
            for old, _, dest, kept in swaps:
                entry = live[old]
                db.execute("DELETE FROM files WHERE path = ?", (old,))
                if kept:
                    db.execute(
                        "INSERT INTO files (path, tbl, project, part, rows, bytes, batch_id, created_at, sorted)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (dest.relative_to(ws.root).as_posix(), entry.tbl, entry.project, entry.part, kept,
                         dest.stat().st_size, batch_id, now, int(entry.sorted)))
            detail = {"subject_sha256": subject, "salt": salt, "ids": len(ids), "rows_removed": removed,
                      "files_rewritten": rewritten, "wal_records_rewritten": wal_records}
            db.execute(
                "UPDATE batches SET finished_at = ?, rows_in = ?, detail = ? WHERE id = ?",
                (time.time(), sum(removed.values()), orjson.dumps(detail).decode(), batch_id))
        for old, _, dest, kept in swaps:
            (ws.root / old).unlink(missing_ok=True)
            if not kept:
                dest.unlink(missing_ok=True)
        leftovers = find(ws, needles)
    return EraseResult(project, subject, len(ids), removed, rewritten, wal_records, leftovers,
                       round(time.perf_counter() - t0, 3))


def _catalog_tables(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.catalog.execute("SELECT DISTINCT tbl FROM files").fetchall()]


def find(ws: Workspace, needles: list[str]) -> list[str]:
    """Files that still name any of ``needles``: Parquet by decoded values, everything
    else by raw bytes (case-insensitive, whole tokens)."""
    pattern = _pattern([n for n in needles if len(n) >= MIN_NEEDLE])
    regex = re.compile(pattern.encode())
    out = []
    for path in _walk(ws.root):
        if path.name == ".writer.lock":
            continue
        if path.suffix == ".parquet":
            if _scan_parquet(ws.con, path, pattern):
                out.append(path.relative_to(ws.root).as_posix())
        elif regex.search(path.read_bytes().lower()):
            out.append(path.relative_to(ws.root).as_posix())
    return out
