"""The collector's write-ahead log: acknowledged events survive a crash.

Layout: ``<ws>/wal/<writer>/seg-<n>.log``, one directory per server process (so
``--workers N`` never share a file), each holding an exclusive ``flock`` on
``<writer>/.lock`` while it lives. A record is ``[u32 length][u32 crc32][payload]``
with payload ``msgpack([project, columns])``: the request's rows, already normalised,
column by column in the event column order (records of older versions hold
``orjson([project, rows])`` and are still read). Column-major msgpack because the
writer turns a whole round into one Arrow table: it only extends 15 lists per record
and converts each once, instead of decoding (and garbage-collecting) one list per event
and transposing them; msgpack because the rows' JSON texts need no escaping in it.
A request is acknowledged only after its rows are written and fsynced; concurrent requests share one fsync (group commit: while one fsync runs the next
requests queue up and go out together, one record per project; under concurrent load
groups start at least ``commit_spacing``, 2 ms, apart so that they are larger, while a
lone request goes out at once).

Every process has a drainer thread, but only one of them at a time **leads** (holds
the flock on ``wal/.drainer.lock``) and moves segments into the workspace: those of its
own directory and the closed ones of every other live writer (a second flock,
``<writer>/.alive``, held only by the owner, says it is alive; the ``.lock`` is also
taken by adopters and by ``wal_erasure``). With ``--workers 2`` both processes used to
append every round, queueing on the workspace writer lock and paying the append's fixed
cost (and its duplicate check against the day) twice as often. The other drainers only
close their open segment every ``interval`` (so the leader can take it), confirm erase
requests once the leader has drained what they had closed, take over the lead when its
holder dies, and drain their own directory at shutdown.

The leading drainer wakes on the first write after a quiet spell (and then at most every
``interval`` seconds while traffic lasts), rotates the open segment, appends the
closed segments to the workspace (one ``ws.append`` per project, which takes the
workspace writer lock and dedupes on event_id) and only then deletes them. A crash
between the append and the delete replays the segment on the next start; the append
drops what is already stored, so nothing is doubled. A torn record at the end of a
segment (crash during write, never acknowledged) ends the replay of that segment.
On start, and every few seconds, a drainer also adopts the directories of dead
writers (their lock is free) and drains them. Erase requests (``wal_erasure``) are
honoured by the drainers: matching rows are dropped before they are appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import shutil
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pyarrow as pa

from cxlens.errors import WorkspaceError
from cxlens.ingest import wal_erasure
from cxlens.ingest.segment import COLUMNS, ROW_SCHEMA, Row
from cxlens.store.locking import try_lock

log = logging.getLogger("cxlens.wal")
_HEADER = struct.Struct("<II")
#: one drain round (one ``ws.append`` per project) takes at most this much WAL. A round
#: holds its events as Arrow chunks (about its WAL size; see _CHUNK_EVENTS), no longer
#: as Python lists (~8x: 64 MB rounds of lists let the server RSS swing by 1 GB in the
#: 10-minute soak), so rounds can be larger: an append costs ~40 ms CPU whatever its size
#: (parsing, binding and planning the normalising SQL, RE2 compiling its regexes, the
#: duplicate check, catalog commits), 1.2 µs per event in 16 MB rounds
MAX_DRAIN_BYTES = 32 * 1024 * 1024
#: while the writer is behind (more is waiting than two rounds take) rounds take this
#: much: a drain round cost ~0.25 s fixed plus ~10 µs per event (fit over the rounds of
#: a 3-minute soak, 16 MB = ~38k events each), so larger rounds move more per second
MAX_DRAIN_BYTES_BEHIND = 96 * 1024 * 1024
#: a segment is closed once it holds this much, whatever the drainer does: the leader
#: used to rotate its own segment only once per round, so while a round waited for a
#: tier merge that segment grew to 1.5M events (450 MB) and was read in one piece,
#: 2 GB of Python objects (10 minutes at 85k events/s, 2 workers)
MAX_SEGMENT_BYTES = 8 * 1024 * 1024
#: a drain turns the records it reads into Arrow every this many events of a project:
#: converted while their Python strings are still in the CPU cache, reading and
#: converting costs ~0.9 µs per event; gathering a whole round's lists and converting
#: them at the end cost ~2.1 µs (and ~8x the WAL bytes in memory)
_CHUNK_EVENTS = 2_048
QUARANTINE_AFTER = 10
#: held (flock) by the leading drainer; ``<writer>/ALIVE`` only by the writer itself
LEADER_LOCK = ".drainer.lock"
ALIVE = ".alive"


#: a list per event column (COLUMNS order), all of the same length
Columns = list[list[Any]]
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()
_ORJSON_RECORD = ord("[")  # payloads of earlier versions: orjson([project, rows])
#: a request with at least this many rows is its own WAL record, encoded as it arrives
#: (see GroupCommit.append); fewer rows share their commit group's record per project
PRE_ENCODE_ROWS = 32


def encode_record(project: str, rows: list[Row]) -> bytes:
    payload = _ENCODER.encode((project, tuple(zip(*rows, strict=True))))
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _records(path: Path) -> Iterator[tuple[str, Columns]]:
    """(project, columns) of each record; stops at the first torn or corrupt record."""
    data = path.read_bytes()
    view = memoryview(data)
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        start = pos + _HEADER.size
        payload = view[start : start + length]
        if len(payload) < length or zlib.crc32(payload) != crc:
            log.warning("torn record at %s offset %d: rest of segment skipped", path, pos)
            return
        if payload[0] == _ORJSON_RECORD:
            project, rows = orjson.loads(payload)
            columns: Columns = [list(c) for c in zip(*rows, strict=True)]
        else:
            project, columns = _DECODER.decode(payload)
        if not columns:  # a record without rows
            columns = [[] for _ in COLUMNS]
        yield project, columns
        pos = start + length


def read_segment(path: Path) -> Iterator[tuple[str, list[list[Any]]]]:
    """Records of a segment as (project, rows); stops at the first torn or corrupt record."""
    for project, columns in _records(path):
        yield project, [list(r) for r in zip(*columns, strict=True)]


def columns_to_table(columns: Columns) -> pa.Table:
    """A drain round's columns -> an Arrow table with the event file columns."""
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, ROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentLog:
    """One process's WAL directory: append + fsync, rotate, list closed segments."""

    def __init__(self, root: Path, *, fsync: bool = True,
                 max_segment_bytes: int = MAX_SEGMENT_BYTES) -> None:
        self.root = root
        self.max_segment_bytes = max_segment_bytes
        root.mkdir(parents=True, exist_ok=True)
        name = f"w-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # lock first, then make the directory visible: a drainer adopting dead writers'
        # directories must never see this one unlocked
        staging = root / f".new-{name}"
        staging.mkdir()
        fd = try_lock(staging / ".lock")
        alive = try_lock(staging / ALIVE)
        assert fd is not None and alive is not None  # a fresh directory nobody else knows
        self._lock_fd = fd
        self._alive_fd = alive
        self.dir = root / name
        staging.rename(self.dir)
        self._fsync = fsync
        self._mutex = threading.Lock()
        self._seq = 0
        self._file = self._open_next()
        self._size = 0
        self._opened = time.monotonic()
        #: first-write time of each segment not yet drained, for the lag metric
        self._first_write: dict[Path, float] = {}
        #: set after every durable write; wakes an idle drainer at once
        self.written = threading.Event()
        _fsync_dir(root)

    def _open_next(self) -> Any:
        self._seq += 1
        f = open(self.dir / f"seg-{self._seq:08d}.log", "ab", buffering=0)  # noqa: SIM115
        return f

    def write(self, data: bytes) -> None:
        with self._mutex:
            if self._size == 0:
                self._opened = time.monotonic()
                self._first_write[Path(self._file.name)] = self._opened
            self._file.write(data)
            if self._fsync:
                os.fdatasync(self._file.fileno())
            self._size += len(data)
            if self._size >= self.max_segment_bytes:
                self._rotate_locked()
        self.written.set()

    def rotate(self) -> None:
        """Close the open segment if it holds anything, so the drainer can take it."""
        with self._mutex:
            self._rotate_locked()

    def _rotate_locked(self) -> None:
        if self._size == 0:
            return
        self._file.close()
        self._file = self._open_next()
        self._size = 0
        if self._fsync:
            _fsync_dir(self.dir)

    def closed_segments(self) -> list[Path]:
        with self._mutex:
            current = Path(self._file.name).name
        return sorted(p for p in self.dir.glob("seg-*.log") if p.name != current)

    def oldest_pending_age(self) -> float:
        """Seconds since the oldest acknowledged record that is not in the workspace yet."""
        with self._mutex:
            for path in [p for p in self._first_write if not p.exists()]:
                del self._first_write[path]
            oldest = min(self._first_write.values(), default=None)
        return time.monotonic() - oldest if oldest is not None else 0.0

    def close(self) -> None:
        with self._mutex:
            self._file.close()
            if self._size == 0:
                Path(self._file.name).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete the directory (only once every segment is drained) and unlock."""
        if not any(self.dir.glob("seg-*.log")):
            shutil.rmtree(self.dir, ignore_errors=True)
        os.close(self._alive_fd)
        os.close(self._lock_fd)


class GroupCommit:
    """Async front of a SegmentLog: ``await append(project, rows)`` returns once the rows
    are durable.

    The requests that queue up while one fsync runs go out together, and their rows
    become one record per project: with single-event requests a record per request cost
    the request path its own msgpack call and the drainer a header, a CRC and a decode
    per event (1 row per record: encode 2.3 + read 3.4 µs/row; 10 rows: 0.9 + 1.2).

    ``spacing``: while requests come concurrently (the last group acknowledged more than
    one), a group starts at least this long after the previous one started, so that
    groups are larger: each costs a thread handoff, a write and an fdatasync (~60-90 µs
    of CPU for the fsync alone on the development box) whatever its size. A lone
    request (the last group had one) goes out at once, so sequential clients wait no
    longer."""

    def __init__(self, seglog: SegmentLog, *, spacing: float = 0.0,
                 on_durable: Callable[[], None] | None = None) -> None:
        self._log = seglog
        self.spacing = spacing
        #: called after each group is durable, before its requests are answered
        self._on_durable = on_durable
        self._started = 0.0
        self._last_size = 0
        self._pending: list[tuple[str, list[Row], asyncio.Future[None]]] = []
        #: records of the requests with many rows, encoded when they arrived
        self._ready: list[tuple[bytes, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        # one thread of its own rather than run_in_executor: the executor's round trip
        # (a concurrent Future with its Condition, a work item, wrap_future's callback
        # chain) cost ~31 us of CPU per group, this ~15 (a queue and one call_soon_threadsafe)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="cxlens-wal", daemon=True)
        self._writer.start()

    async def append(self, project: str, rows: list[Row]) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        if len(rows) >= PRE_ENCODE_ROWS:
            # encoded now, while the request's rows are still in the CPU cache (raises
            # for this request only): the group's encoding a few ms later found them
            # evicted by the requests decoded meanwhile
            self._ready.append((encode_record(project, rows), fut))
        else:
            self._pending.append((project, rows, fut))
        if self._task is None:
            self._task = loop.create_task(self._run())
        await fut

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending or self._ready:
                if self._last_size > 1:
                    wait = self._started + self.spacing - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                self._started = loop.time()
                group, self._pending = self._pending, []
                ready, self._ready = self._ready, []
                self._last_size = len(group) + len(ready)
                data, waiters = _encode_group(group) if group else (b"", [])
                if ready:
                    data = b"".join([data, *(record for record, _ in ready)])
                    waiters += [w for _, w in ready]
                written: asyncio.Future[None] = loop.create_future()
                self._jobs.put((data, loop, written))
                try:
                    await written
                except Exception as exc:
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                    continue
                if self._on_durable is not None:
                    self._on_durable()
                for w in waiters:
                    if not w.done():
                        w.set_result(None)
        finally:
            self._task = None

    def _write_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            data, loop, written = job
            error: Exception | None = None
            try:
                self._log.write(data)
            except Exception as exc:  # handed to the waiting requests
                error = exc
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, written, error)

    def close(self) -> None:
        """Stop the writer thread once the writes handed to it are done."""
        self._jobs.put(None)
        self._writer.join()


#: what the writer thread gets: the bytes of a commit group, and whom to tell
_Job = tuple[bytes, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


def _settle(written: asyncio.Future[None], error: Exception | None) -> None:
    if written.done():  # the group's task was cancelled meanwhile
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)


def _encode_group(
    group: list[tuple[str, list[Row], asyncio.Future[None]]],
) -> tuple[bytes, list[asyncio.Future[None]]]:
    """One record per project of a commit group, and the requests it acknowledges. Rows
    that cannot be encoded fail their own request only (each is then encoded alone)."""
    if len(group) == 1:
        project, rows, fut = group[0]
        try:
            return encode_record(project, rows), [fut]
        except Exception as exc:
            fut.set_exception(exc)
            return b"", []
    by_project: dict[str, list[Row]] = {}
    for project, rows, _ in group:
        into = by_project.get(project)
        if into is None:
            by_project[project] = list(rows)
        else:
            into.extend(rows)
    try:
        return b"".join(encode_record(p, r) for p, r in by_project.items()), [f for *_, f in group]
    except Exception:
        parts: list[bytes] = []
        waiters: list[asyncio.Future[None]] = []
        for project, rows, fut in group:
            try:
                parts.append(encode_record(project, rows))
                waiters.append(fut)
            except Exception as exc:
                fut.set_exception(exc)
        return b"".join(parts), waiters


@dataclass(frozen=True, slots=True)
class DrainStats:
    segments: int
    rows: int
    inserted: int
    seconds: float


#: (project, the events of one drain round: ROW_SCHEMA) -> rows inserted
Appender = Callable[[str, pa.Table], int]


class Drainer(threading.Thread):
    """Moves closed WAL segments into the workspace, then deletes them."""

    def __init__(
        self,
        seglog: SegmentLog,
        append: Appender,
        *,
        interval: float = 0.25,
        on_drain: Callable[[DrainStats], None] | None = None,
        adopt_every: float = 5.0,
        on_round: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="cxlens-wal-drainer", daemon=True)
        self.log = seglog
        self._append = append
        self.interval = interval
        self._on_drain = on_drain
        self._on_round = on_round
        self._adopt_every = adopt_every
        self._halt = threading.Event()
        self._next_adopt = 0.0
        self._failures: dict[Path, int] = {}
        self.errors = 0
        self.quarantined = 0
        #: erase requests in force during the current round (rows matching are dropped)
        self._erase: list[wal_erasure.Request] = []
        self._acks = False
        #: seconds the final drain at shutdown may take (then whole rounds stop)
        self.shutdown_drain = 30.0
        self._deadline: float | None = None
        self._leader_fd: int | None = None
        self._round_rows = 0
        #: a follower's erase requests waiting for these segments to be drained
        self._ack_wait: tuple[list[wal_erasure.Request], list[Path]] | None = None

    def run(self) -> None:
        # An idle leader wakes on its own first write or after ``interval`` (the other
        # writers' segments), so a lone event is visible within about two intervals;
        # under load rounds are at least ``interval`` apart and batch more. The wait
        # ends early when an erase request waits for this writer.
        while not self._halt.is_set():
            if self._lead():
                self._wait(self.log.written, self.interval)
                if self._halt.is_set():
                    break
                self.log.written.clear()
                self._round_rows = 0
                self.drain_once()
                if self._round_rows:  # busy: let the next round gather more
                    self._wait(self._halt, self.interval)
            else:
                self._follow_once()
                self._halt.wait(self.interval)
        self._deadline = time.monotonic() + self.shutdown_drain
        self._final_drain()

    def _lead(self) -> bool:
        """True while this drainer leads (takes the lead when nobody holds it)."""
        if self._leader_fd is None:
            self._leader_fd = try_lock(self.log.root / LEADER_LOCK)
        return self._leader_fd is not None

    def _follow_once(self) -> None:
        """A round of a drainer that does not lead: close the open segment for the
        leader; confirm erase requests once every segment closed after reading them
        is gone (drained by the leader, with the matching rows dropped)."""
        try:
            requests = wal_erasure.pending(self.log.root)
            self.log.rotate()
            if self._ack_wait is None and (requests or self._acks):
                self._ack_wait = (requests, self.log.closed_segments())
            if self._ack_wait is not None:
                confirmed, segments = self._ack_wait
                if not any(p.exists() for p in segments):
                    wal_erasure.acknowledge(self.log.dir, confirmed)
                    self._acks = bool(confirmed)
                    self._ack_wait = None
        except Exception:
            self.errors += 1
            log.exception("rotating the WAL failed; will retry")
        if self._on_round is not None:
            self._on_round()

    def _final_drain(self) -> None:
        """At shutdown every drainer drains its own directory (the leader may be
        stopping too); another running leader may take the same segments meanwhile,
        which the append's event_id check makes harmless."""
        try:
            self._erase = wal_erasure.pending(self.log.root)
            self.log.rotate()
            self._drain_all(self.log.closed_segments())
        except Exception:
            self.errors += 1
            log.exception("draining the WAL at shutdown failed; the segments stay for the next start")
        finally:
            if self._leader_fd is not None:
                os.close(self._leader_fd)
                self._leader_fd = None

    def _wait(self, event: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or event.wait(min(left, 1.0)) or self._erase_unconfirmed():
                return

    def _erase_unconfirmed(self) -> bool:
        return any(not (self.log.dir / f"erase-{q.id}.ack").exists()
                   for q in wal_erasure.pending(self.log.root))

    def stop(self, timeout: float | None = None) -> None:
        """Finish the round under way, then drain what is left for at most
        ``shutdown_drain`` seconds (whole rounds; the rest stays durable in the WAL and
        is adopted by a running worker or replayed on the next start)."""
        self._halt.set()
        self.log.written.set()
        self.join(timeout)

    def drain_once(self) -> None:
        """One round: the leader drains; any other drainer only rotates (see module doc)."""
        if not self._lead():
            self._follow_once()
            return
        try:
            # requests read before the rotation: every row acknowledged before them is in
            # a segment this round drains (or drained earlier, so already in the workspace)
            self._erase = wal_erasure.pending(self.log.root)
            if time.monotonic() >= self._next_adopt:
                self._next_adopt = time.monotonic() + self._adopt_every
                self.adopt_orphans()
            self.log.rotate()
            complete = self._drain_all(self.log.closed_segments() + self._live_writers_closed())
            if complete and (self._erase or self._acks):
                wal_erasure.acknowledge(self.log.dir, self._erase)
                self._acks = bool(self._erase)
        except Exception:  # keep the segments; try again next round
            self.errors += 1
            log.exception("draining the WAL failed; will retry")
        if self._on_round is not None:
            self._on_round()

    def _drain_all(self, segments: list[Path]) -> bool:
        """Drain ``segments`` in bounded rounds (a long backlog must not be read into
        memory at once); False when the shutdown deadline left some behind."""
        sizes = [seg.stat().st_size for seg in segments]
        limit = MAX_DRAIN_BYTES_BEHIND if sum(sizes) > 2 * MAX_DRAIN_BYTES else MAX_DRAIN_BYTES
        group: list[Path] = []
        size = 0
        for i, seg in enumerate(segments):
            if not group and self._deadline is not None and time.monotonic() > self._deadline:
                log.warning("shutting down: %d WAL segments left for the next start",
                            len(segments) - i)
                return False
            group.append(seg)
            size += sizes[i]
            if size >= limit:
                self._drain_guarded(group)
                group, size = [], 0
        if group:
            self._drain_guarded(group)
        return True

    def _drain_guarded(self, segments: list[Path]) -> None:
        try:
            self._drain(segments)
            return
        except (OSError, WorkspaceError):
            raise  # the environment (disk, lock): retry everything later
        except Exception:
            self.errors += 1
            log.exception("a WAL segment could not be appended; trying the segments one by one")
        for seg in segments:
            try:
                self._drain([seg])
            except (OSError, WorkspaceError):
                raise
            except Exception:
                self._failed(seg)

    def _failed(self, seg: Path) -> None:
        """A segment whose data the workspace refuses again and again is set aside (not
        deleted) so that it cannot block every event behind it."""
        n = self._failures[seg] = self._failures.get(seg, 0) + 1
        if n < QUARANTINE_AFTER:
            return
        dest = self.log.root / "quarantine"
        dest.mkdir(exist_ok=True)
        seg.rename(dest / f"{seg.parent.name}-{seg.name}")
        self._failures.pop(seg, None)
        self.quarantined += 1
        log.error("WAL segment %s failed %d times; moved to %s", seg, n, dest)

    def _drain(self, segments: list[Path]) -> None:
        if not segments:
            return
        started = time.monotonic()
        pending: dict[str, Columns] = {}
        chunks: dict[str, list[pa.Table]] = {}
        for seg in segments:
            for project, columns in _records(seg):
                if self._erase:
                    rows = wal_erasure.drop_matching([list(r) for r in zip(*columns, strict=True)], self._erase)
                    columns = [list(c) for c in zip(*rows, strict=True)] or [[] for _ in COLUMNS]
                into = pending.get(project)
                if into is None:
                    into = pending[project] = columns
                else:
                    for dest, col in zip(into, columns, strict=True):
                        dest.extend(col)
                if len(into[0]) >= _CHUNK_EVENTS:
                    chunks.setdefault(project, []).append(columns_to_table(pending.pop(project)))
        for project, columns in pending.items():
            chunks.setdefault(project, []).append(columns_to_table(columns))
        del pending
        inserted = 0
        n = 0
        for project, parts in chunks.items():
            table = pa.concat_tables(parts)
            n += table.num_rows
            self._round_rows += table.num_rows
            if table.num_rows:
                inserted += self._append(project, table)
        for seg in segments:
            seg.unlink(missing_ok=True)
        _fsync_dir(segments[0].parent)
        if self._on_drain is not None:
            self._on_drain(DrainStats(len(segments), n, inserted, time.monotonic() - started))

    def _live_writers_closed(self) -> list[Path]:
        """Closed segments of the other live writers: all but each one's newest (the
        open one; a writer opens its next segment before it lets go of the last).
        Directories of dead writers are left to ``adopt_orphans``, which locks them."""
        out: list[Path] = []
        for d in sorted(self.log.root.glob("w-*")):
            if d == self.log.dir or not d.is_dir():
                continue
            fd = try_lock(d / ALIVE)
            if fd is not None:  # its writer is gone (or predates the ALIVE lock)
                os.close(fd)
                continue
            out += sorted(d.glob("seg-*.log"))[:-1]
        return out

    def adopt_orphans(self) -> None:
        """Drain the directories of writers that died (their lock is free)."""
        for d in sorted(self.log.root.glob("w-*")):
            if d == self.log.dir or not d.is_dir():
                continue
            fd = try_lock(d / ".lock")
            if fd is None:
                continue
            try:
                segs = sorted(d.glob("seg-*.log"))
                log.info("replaying %d WAL segments of %s", len(segs), d.name)
                # only an empty directory goes: a segment the workspace refused (not yet
                # quarantined) or one the shutdown deadline left must be tried again
                if self._drain_all(segs) and not any(d.glob("seg-*.log")):
                    shutil.rmtree(d, ignore_errors=True)
            finally:
                os.close(fd)
