"""Pre-computing the dashboard's default views in the background of ``cxlens serve``.

Each server process keeps its own result cache, so each warms it: a thread re-runs the
default 30-day view of every page when a project's events changed (checked every 30 s),
at most once per ``[dashboard] warm_min_seconds`` per project. Under a collector's
sustained load this work competed with the WAL writer for the same two cores and
memory: in the 10-minute soak (87k events/s, 2 workers) both workers re-ran every
analysis over tens of millions of fresh events at the same time and the server's RSS
grew to 17 GB. So warming

- runs in one process at a time (an ``flock`` on ``<ws>/_tmp/dashboard-warm.lock``; the
  other workers wait for their turn), so the peaks of two warmings never add;
- waits while the collector's write-ahead log holds more than ``warm_max_wal_mb``
  (the writer is behind: moving acknowledged events into the workspace comes first),
  but not longer than ``warm_max_defer_seconds``, so a dashboard never stays cold for good;
- runs its DuckDB queries with ``warm_memory_limit`` and ``warm_threads`` (a background
  job; the pages users open keep the ``[engine]`` settings).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxlens.errors import ConfigError, CxError
from cxlens.store.workspace import Workspace
from cxlens.web import kpis, queries, views
from cxlens.web.funnel_builder import DEFAULT_FUNNEL, FunnelForm
from cxlens.web.i18n import Fmt

if TYPE_CHECKING:
    from cxlens.web.pages import Web

log = logging.getLogger("cxlens.web")
LOCK_NAME = "dashboard-warm.lock"


@dataclass(frozen=True, slots=True)
class WarmSettings:
    """``[dashboard] warm_*`` of ``cxlens.toml``."""

    min_seconds: float = 300.0
    max_wal_mb: float = 256.0
    max_defer_seconds: float = 300.0
    memory_limit: str = "512MB"
    threads: int = 1


def _number(section: Mapping[str, Any], key: str, default: float, what: str) -> float:
    raw = section.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ConfigError(f"[dashboard] {key} = {raw!r}: write {what}", field=f"dashboard.{key}")
    return float(raw)


def settings(config: Mapping[str, Any]) -> WarmSettings:
    """The warming settings of a workspace config (ConfigError naming the key)."""
    section = config.get("dashboard", {}) or {}
    d = WarmSettings()
    memory = section.get("warm_memory_limit", d.memory_limit)
    if not isinstance(memory, str) or not memory.strip():
        raise ConfigError(f"[dashboard] warm_memory_limit = {memory!r}: write a size such as "
                          "\"512MB\" or \"2GB\"", field="dashboard.warm_memory_limit")
    threads = section.get("warm_threads", d.threads)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"[dashboard] warm_threads = {threads!r}: write a whole number of "
                          "threads, at least 1", field="dashboard.warm_threads")
    return WarmSettings(
        min_seconds=_number(section, "warm_min_seconds", d.min_seconds, "a number of seconds"),
        max_wal_mb=_number(section, "warm_max_wal_mb", d.max_wal_mb, "a number of megabytes"),
        max_defer_seconds=_number(section, "warm_max_defer_seconds", d.max_defer_seconds,
                                  "a number of seconds"),
        memory_limit=memory.strip(), threads=threads)


def wal_backlog_bytes(root: Path) -> int:
    """Bytes of acknowledged events the collector has not moved into the workspace yet."""
    total = 0
    for seg in (root / "wal").glob("w-*/seg-*.log"):
        with suppress(OSError):  # drained meanwhile
            total += seg.stat().st_size
    return total


@contextmanager
def turn(root: Path, stop: threading.Event, poll: float = 0.5) -> Iterator[bool]:
    """Wait for the warming lock (another worker may be warming): True once held, False
    when ``stop`` was set first."""
    path = root / "_tmp" / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if stop.wait(poll):
                    yield False
                    return
        yield True
    finally:
        os.close(fd)  # releases the lock


def warm_project(web: Web, ws: Workspace, project: str, days: int = 30,
                 stop: threading.Event | None = None) -> bool:
    """Compute what a user sees first (the default period of every page) into the cache,
    so the first visit after new data does not wait for the queries. Stops between pages
    once ``stop`` is set (a server shutting down waited minutes for a whole warming of a
    large day); returns whether every page was warmed."""
    from cxlens.web.pages import compute_journey, compute_overview  # pages imports us

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    if stopped():
        return False
    period = queries.last_days(days, queries.default_end(ws, project))
    snapshot = queries.snapshot_key(ws, project)
    targets = kpis.parse_targets(ws.config)
    web.cache.get(("overview", project, snapshot, period, None, tuple(sorted(targets.items()))),
                  lambda: compute_overview(ws, project, period, targets))
    if stopped():
        return False
    journey = (ws.config.get("dashboard", {}) or {}).get("journey")
    web.cache.get(("journey", project, snapshot, period, None, journey, "channel"),
                  lambda: compute_journey(ws, project, period))

    def cache(key: str, make: Callable[[], Any]) -> Any:
        return web.cache.get((key, project, snapshot), make)

    fmt = Fmt("en")
    later: tuple[Callable[[], object], ...] = (
        lambda: views.graph_charts(ws, project, period, "en", fmt, cache),
        lambda: views.paths_charts(ws, project, None, 4, period, "en", fmt, cache),
        lambda: views.retention_charts(ws, project, "en", fmt, cache=cache))
    for view in later:
        if stopped():
            return False
        with suppress(CxError):  # e.g. no orders yet for retention: the page says so
            view()
    if stopped():
        return False
    con = queries.connect(ws, project)
    try:
        names = views.event_names(con)
    finally:
        con.close()
    steps = tuple(s for s in DEFAULT_FUNNEL if s in names)
    if len(steps) >= 2 and not stopped():
        views.funnel_charts(ws, project, FunnelForm(steps).spec(), period, "en", fmt, cache)
    return not stopped()


@dataclass
class Warmer:
    """The warming loop's memory: what was warmed when, since when it waits for the WAL."""

    web: Web
    stop: threading.Event = field(default_factory=threading.Event)
    seen: dict[str, tuple[int, int, str | None]] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    deferred_since: float | None = None
    #: rounds that warmed something (for tests and logs)
    warmed: int = 0

    def round(self) -> None:
        """Warm every project whose data changed and whose turn has come, if allowed now."""
        ws = Workspace.open(self.web.root)
        try:
            s = settings(ws.config)
            now = time.monotonic()
            due: dict[str, tuple[int, int, str | None]] = {}
            for project in ws.projects():
                snap = queries.snapshot_key(ws, project)
                if snap[0] and self.seen.get(project) != snap and (
                        now - self.last.get(project, -s.min_seconds) >= s.min_seconds):
                    due[project] = snap
            if not due or self._defer(ws.root, s, now):
                return
            with turn(ws.root, self.stop) as mine:  # after the worker warming now, if any
                if not mine:
                    return
                engine = dict(ws.config.get("engine", {}) or {})
                ws.config = {**ws.config, "engine": {
                    **engine, "memory_limit": s.memory_limit, "threads": s.threads}}
                for project, snap in due.items():
                    started = time.monotonic()
                    if not warm_project(self.web, ws, project, stop=self.stop):
                        return  # shutting down
                    self.seen[project], self.last[project] = snap, time.monotonic()
                    log.info("warmed the dashboard cache", extra={
                        "project": project, "seconds": round(self.last[project] - started, 2)})
                self.warmed += 1
        finally:
            ws.close()

    def _defer(self, root: Path, s: WarmSettings, now: float) -> bool:
        backlog = wal_backlog_bytes(root)
        if backlog <= s.max_wal_mb * 1e6:
            self.deferred_since = None
            return False
        if self.deferred_since is None:
            self.deferred_since = now
            log.info("dashboard warming waits: the collector's write-ahead log is behind",
                     extra={"wal_mb": round(backlog / 1e6, 1)})
        if now - self.deferred_since < s.max_defer_seconds:
            return True
        self.deferred_since = None  # waited long enough: warm now, and wait again later
        log.info("dashboard warming runs although the write-ahead log is behind",
                 extra={"wal_mb": round(backlog / 1e6, 1)})
        return False


def warm_forever(web: Web, stop: threading.Event, every: float = 30.0) -> None:
    """Run warming rounds every ``every`` seconds until ``stop`` is set."""
    warmer = Warmer(web, stop)
    while not stop.is_set():
        try:
            warmer.round()
        except ConfigError as exc:  # says which key to fix; checked again next round
            log.error("dashboard warming skipped: %s", exc.message)
        except Exception:  # a vanished file or the like: pages will say so; keep going
            log.exception("warming the dashboard cache failed")
        stop.wait(every)
