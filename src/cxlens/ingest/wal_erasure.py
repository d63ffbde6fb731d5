"""Erasure while collectors run: erase requests that every WAL drainer honours.

A running collector appends to its open WAL segment without the workspace lock, and
its drainer reads segments before it takes the lock to append them, so rewriting WAL
files from another process (as ``cxlens privacy erase`` did) could lose acknowledged
events (the collector keeps writing to the replaced file) or bring erased rows back
(rows read before the rewrite, appended after it). Instead:

1. ``erasing(wal_root, pattern)`` writes a request ``<ws>/wal/erase/<id>.json`` holding
   the match pattern (fsynced), then waits until every **live** writer directory (its
   ``.lock`` is held) has acknowledged it with ``<writer>/erase-<id>.ack``. It does not
   hold the workspace writer lock while it waits (the drainers need it to append).
2. A drainer reads the pending requests at the start of each round, rotates its open
   segment and drains every closed segment, **dropping the rows that match** before
   they are appended, and only then writes its acks. So every row acknowledged before
   the request is, once all acks are in, either already in the Parquet files (which the
   erasure rewrites next) or was dropped. Drainers look for requests at least once a
   second, also when idle or between rounds.
3. The directories of **dead** writers (their lock is free) are locked by ``erasing``
   for its whole duration, so that no drainer adopts them meanwhile; the erasure
   rewrites their segments (and any other WAL file) itself; it leaves only the files of
   live writers (``is_live_writer_file``) to their drainers.
4. While the request exists, drainers keep dropping matching rows. ``erasing`` removes
   it when the erasure is done (also on failure); drainers delete their stale acks.

The request holds the person's ids for the seconds the erasure takes; it lives in the
workspace that holds their data anyway and is skipped by the erasure's file walk.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cxlens.errors import WorkspaceError
from cxlens.store.locking import try_lock

ERASE_DIR = "erase"
ACK_WAIT_S = 60.0


class EraseNotConfirmed(WorkspaceError):
    code = "erase_not_confirmed"
    status_code = 503


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    regex: re.Pattern[bytes]

    def matches(self, row: Any) -> bool:
        return self.regex.search(orjson.dumps(row).lower()) is not None


def pending(wal_root: Path) -> list[Request]:
    """The erase requests in force (cheap when there are none: one failed scandir)."""
    out: list[Request] = []
    try:
        entries = list(os.scandir(wal_root / ERASE_DIR))
    except FileNotFoundError:
        return out
    for entry in entries:
        if not entry.name.endswith(".json"):
            continue
        try:
            doc = orjson.loads(Path(entry.path).read_bytes())
            out.append(Request(entry.name[:-5], re.compile(str(doc["pattern"]).encode())))
        except (OSError, orjson.JSONDecodeError, KeyError, re.error):
            continue  # half-written or just removed: the next look sees it whole or gone
    return out


def drop_matching(rows: list[list[Any]], requests: list[Request]) -> list[list[Any]]:
    if not requests:
        return rows
    return [r for r in rows if not any(q.matches(r) for q in requests)]


def acknowledge(writer_dir: Path, requests: list[Request]) -> None:
    """Confirm that every row this writer acknowledged before ``requests`` was honoured;
    delete acks of requests that are gone."""
    ids = {q.id for q in requests}
    for q in requests:
        (writer_dir / f"erase-{q.id}.ack").touch()
    for ack in writer_dir.glob("erase-*.ack"):
        if ack.name[6:-4] not in ids:
            ack.unlink(missing_ok=True)


@dataclass
class Erasing:
    """What ``erasing`` yields: dead writers' directories, locked for the erasure."""

    request_id: str
    dead_dirs: list[Path] = field(default_factory=list)
    live_dirs: list[Path] = field(default_factory=list)
    _fds: list[int] = field(default_factory=list)

    def is_live_writer_file(self, path: Path) -> bool:
        """A file of a running collector: its drainer drops the rows, do not touch it."""
        return path.parent in self.live_dirs


@contextmanager
def erasing(wal_root: Path, pattern: str, timeout: float = ACK_WAIT_S) -> Iterator[Erasing]:
    """Make running collectors drop rows matching ``pattern`` (see module doc); yields
    once every live writer has confirmed. Call *without* the workspace writer lock."""
    req_dir = wal_root / ERASE_DIR
    req_dir.mkdir(parents=True, exist_ok=True)
    rid = uuid.uuid4().hex
    tmp = req_dir / f".{rid}.tmp"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps({"pattern": pattern, "created": time.time()}))
        f.flush()
        os.fsync(f.fileno())
    final = req_dir / f"{rid}.json"
    tmp.rename(final)
    state = Erasing(rid)
    try:
        live = state.live_dirs
        for d in sorted(wal_root.glob("w-*")):
            if not d.is_dir():
                continue
            fd = try_lock(d / ".lock")
            if fd is None:
                live.append(d)
            else:
                state._fds.append(fd)
                state.dead_dirs.append(d)
        deadline = time.monotonic() + timeout
        while True:
            waiting = [d for d in live if d.exists() and not (d / f"erase-{rid}.ack").exists()]
            for d in waiting:  # a writer that stopped meanwhile: its files are ours now
                fd = try_lock(d / ".lock") if (d / ".lock").exists() else None
                if fd is not None:
                    state._fds.append(fd)
                    state.dead_dirs.append(d)
                    live.remove(d)
            waiting = [d for d in waiting if d in live]
            if not waiting:
                break
            if time.monotonic() > deadline:
                raise EraseNotConfirmed(
                    f"the collector writing {', '.join(d.name for d in waiting)} did not confirm the "
                    f"erasure within {timeout:.0f} s (is it hung?); check /healthz, restart it and "
                    "run the erasure again")
            time.sleep(0.1)
        yield state
    finally:
        final.unlink(missing_ok=True)
        for fd in state._fds:
            os.close(fd)
