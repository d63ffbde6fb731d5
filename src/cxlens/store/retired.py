"""Files a merge or a compaction replaced stay readable for the readers that listed them.

A reader lists the live files in the catalog and opens them later: a dashboard page's
connection lists once and runs a dozen queries on it, a report or ``Workspace.query``
likewise. When merges deleted the files they replaced at once, such a reader failed on a
vanished file whenever a merge came in between, and under a collector's steady appends
it could fail every retry (a 10-minute soak's dashboard warming did, twice).

So a merge or compaction *retires* its inputs: the catalog commit that makes the new
file live moves them from ``files`` (no new listing sees them) to ``retired`` with the
time. Whether they are deleted at once depends on the readers: a reader holds a shared
``flock`` on ``<workspace>/.readers.lock`` from before its listing until it is done
(``reading``; ``read_retrying`` and so ``Workspace.query`` and every dashboard page take
it). After each commit the writer tries the exclusive lock without waiting: when no
reader holds the shared one, nobody can have listed the retired files, and they are
deleted at once, so a plain directory read (``spark.read.parquet("<ws>/events")``) sees
each row once, as before. While readers read, the files stay, and the writer deletes
them at its first commit with no reader, or once they are older than the grace
(``[store] retired_grace_minutes``, default 10), whichever comes first; only then can a
plain directory read count a retired file's rows a second time. This is the lease side
of what Delta Lake's VACUUM retention and Iceberg's snapshot expiry do by time alone.

Crash safety: a file under ``events/`` is live, retired, or neither (then a crashed
writer's orphan, which recovery deletes). A purge deletes the file first and forgets it
afterwards, so a crash in between leaves a row whose file is gone; the next purge
forgets it. Privacy: erasure rewrites retired files in place like every file outside
the catalog and deletes the files it replaces at once (privacy/erase.py); retention
deletes the retired files of expired days with the live ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cxlens.errors import WorkspaceError
from cxlens.store import eventindex
from cxlens.store.catalog import RETIRED_TABLE, Catalog
from cxlens.store.locking import try_lock

#: the longest a reader delays the deletion: long enough for a dashboard page or a long
#: report over a busy day; a collector's merges retire a few MB/s at most, so this keeps a
#: few GB on disk under full load while a reader reads
DEFAULT_GRACE_MINUTES: Final = 10.0

LEASE_FILE: Final = ".readers.lock"


@contextmanager
def reading(root: Path) -> Iterator[None]:
    """Hold from before listing the live files until done reading them: files that merges
    retire meanwhile stay on disk (up to the grace). Best effort on a workspace this
    process may not write to (no lock file can be made there): then no lease is taken."""
    try:
        fd = os.open(root / LEASE_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a writer deletes (milliseconds)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True, slots=True)
class RetiredFile:
    path: str
    tbl: str
    project: str
    part: str
    retired_at: float


def grace_seconds(config: Mapping[str, Any]) -> float:
    value = config.get("store", {}).get("retired_grace_minutes", DEFAULT_GRACE_MINUTES)
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        minutes = -1.0
    if isinstance(value, bool) or not minutes >= 0:
        raise WorkspaceError(
            f"[store] retired_grace_minutes in cxlens.toml must be a number of minutes >= 0, "
            f"not {value!r}; e.g. retired_grace_minutes = {DEFAULT_GRACE_MINUTES:g}")
    return minutes * 60.0


def retire(db: sqlite3.Connection, paths: list[str], now: float) -> None:
    """Move ``paths`` from the live files to the retired ones; call inside the catalog
    transaction that installs what replaces them."""
    db.execute(RETIRED_TABLE)  # workspaces created before the table existed
    db.executemany(
        "INSERT OR REPLACE INTO retired (path, tbl, project, part, retired_at)"
        " SELECT path, tbl, project, part, ? FROM files WHERE path = ?",
        [(now, p) for p in paths])
    db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in paths])


def listed(catalog: Catalog, tbl: str | None = None) -> list[RetiredFile]:
    sql = "SELECT path, tbl, project, part, retired_at FROM retired"
    args: list[object] = []
    if tbl is not None:
        sql += " WHERE tbl = ?"
        args.append(tbl)
    try:
        rows = catalog.execute(sql + " ORDER BY path", args).fetchall()
    except sqlite3.OperationalError:  # no such table: nothing was ever retired here
        return []
    return [RetiredFile(str(p), str(t), str(pr), str(part), float(at)) for p, t, pr, part, at in rows]


def delete(root: Path, catalog: Catalog, files: list[RetiredFile]) -> None:
    """Delete retired files now (their grace is over, or privacy says so)."""
    if not files:
        return
    for f in files:
        path = root / f.path
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the day directory may hold other files
            path.parent.rmdir()
    eventindex.drop_runs(root, [f.path for f in files])
    with catalog.transaction() as db:
        db.executemany("DELETE FROM retired WHERE path = ?", [(f.path,) for f in files])


def purge(root: Path, catalog: Catalog, grace: float, now: float | None = None) -> int:
    """Delete retired files: all of them when no reader holds a lease (``reading``),
    else those retired more than ``grace`` seconds ago; returns how many. Call with the
    writer lock held."""
    try:
        rows = catalog.execute("SELECT path, tbl, project, part, retired_at FROM retired").fetchall()
    except sqlite3.OperationalError:
        return 0
    if not rows:
        return 0
    files = [RetiredFile(str(p), str(t), str(pr), str(part), float(at)) for p, t, pr, part, at in rows]
    held = _exclusive(root)
    try:
        if held is not None:  # no reader now: none can have listed these files
            delete(root, catalog, files)
            return len(files)
    finally:
        if held is not None:
            os.close(held)
    cutoff = (time.time() if now is None else now) - grace
    due = [f for f in files if f.retired_at <= cutoff]
    delete(root, catalog, due)
    return len(due)


def _exclusive(root: Path) -> int | None:
    """The lease file's descriptor with the exclusive lock (readers that start meanwhile
    wait on their shared lock until it is closed), or None while a reader reads."""
    try:
        return try_lock(root / LEASE_FILE)
    except OSError:  # a workspace this process may not write to
        return None
