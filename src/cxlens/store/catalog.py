"""The SQLite catalog: which Parquet files are live, import history, projects.

The catalog is the commit point of every write. A Parquet file becomes part of the
workspace in the same SQLite transaction that records it, so a batch of files shows
up for readers all at once or not at all. SQLite in WAL mode lets any number of
readers (CLI, notebook, server) look while one writer commits.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1

#: files a merge or compaction replaced, kept on disk for readers that listed them
#: (store/retired.py); a file is in ``files`` or here, never both
RETIRED_TABLE = """CREATE TABLE IF NOT EXISTS retired (
    path TEXT PRIMARY KEY,
    tbl TEXT NOT NULL,
    project TEXT NOT NULL,
    part TEXT NOT NULL,
    retired_at REAL NOT NULL
)"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS projects (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    write_key TEXT UNIQUE,
    secret_key TEXT UNIQUE,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,          -- relative to the workspace root
    tbl TEXT NOT NULL,              -- events, identities, ...
    project TEXT NOT NULL,
    part TEXT NOT NULL,             -- partition value (the date for events)
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    batch_id INTEGER NOT NULL,
    created_at REAL NOT NULL,
    sorted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS files_tbl_project ON files (tbl, project, part);
""" + RETIRED_TABLE + """;
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,             -- import, collector, compact, erase, ...
    source TEXT NOT NULL,
    project TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    rows_in INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    rejects_path TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
"""


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    tbl: str
    project: str
    part: str
    rows: int
    bytes: int
    batch_id: int
    sorted: bool


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")

    @classmethod
    def create(cls, path: Path) -> Catalog:
        cat = cls(path)
        cat._db.executescript(_SCHEMA)
        cat._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('format_version', ?)",
            (str(FORMAT_VERSION),),
        )
        return cat

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- files -----------------------------------------------------------------
    def live_files(self, tbl: str, project: str | None = None) -> list[FileEntry]:
        sql = "SELECT path, tbl, project, part, rows, bytes, batch_id, sorted FROM files WHERE tbl = ?"
        args: list[object] = [tbl]
        if project is not None:
            sql += " AND project = ?"
            args.append(project)
        sql += " ORDER BY path"
        return [
            FileEntry(str(p), str(t), str(pr), str(part), int(r), int(b), int(bid), bool(srt))
            for p, t, pr, part, r, b, bid, srt in self._db.execute(sql, args)
        ]

    def files_in(self, tbl: str, project: str, parts: Iterable[str]) -> list[FileEntry]:
        wanted = set(parts)
        return [f for f in self.live_files(tbl, project) if f.part in wanted]

    # -- batches ---------------------------------------------------------------
    def start_batch(self, kind: str, source: str, project: str | None) -> int:
        cur = self._db.execute(
            "INSERT INTO batches (kind, source, project, started_at) VALUES (?, ?, ?, ?)",
            (kind, source, project, time.time()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def batches(self, limit: int = 100) -> list[dict[str, object]]:
        cur = self._db.execute(
            "SELECT id, kind, source, project, started_at, finished_at, rows_in, inserted,"
            " duplicates, rejected, rejects_path, detail FROM batches"
            " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # -- projects --------------------------------------------------------------
    def project_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM projects ORDER BY name")]

    def execute(self, sql: str, args: Iterable[object] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, tuple(args))
