"""Data page: sources, import history (catalog ``batches``), event volume per source and
day, rejected rows (files under ``<ws>/rejects``) and the collector's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from cxlens.store.workspace import Workspace
from cxlens.web.queries import Period, rejects_files


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    kind: str
    source: str
    started: datetime
    rows_in: int
    inserted: int
    duplicates: int
    rejected: int
    rejects_path: str | None


@dataclass(frozen=True, slots=True)
class RejectFile:
    path: str
    bytes: int
    modified: datetime


def batches(ws: Workspace, project: str, limit: int = 50) -> list[Batch]:
    rows = ws.catalog.execute(
        "SELECT id, kind, source, started_at, rows_in, inserted, duplicates, rejected,"
        " rejects_path FROM batches WHERE finished_at IS NOT NULL AND (project = ? OR project"
        " IS NULL) ORDER BY id DESC LIMIT ?", (project, limit)).fetchall()
    return [Batch(int(i), str(k), str(s), datetime.fromtimestamp(float(st), UTC), int(a),
                  int(b), int(c), int(d), p) for i, k, s, st, a, b, c, d, p in rows]


def sources(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, datetime, datetime]]:
    rows = con.execute("SELECT coalesce(source, '?'), count(*), min(timestamp), max(timestamp) "
                       "FROM ev GROUP BY 1 ORDER BY 2 DESC").fetchall()
    return [(str(s), int(n), a, b) for s, n, a, b in rows]


def volume(con: duckdb.DuckDBPyConnection, period: Period) -> list[tuple[Any, str, int]]:
    rows = con.execute("SELECT date, coalesce(source, '?'), count(*) FROM ev "
                       "WHERE date BETWEEN $s AND $e GROUP BY 1, 2 ORDER BY 1, 2",
                       {"s": period.start, "e": period.end}).fetchall()
    return [(d, str(s), int(n)) for d, s, n in rows]


def rejects(ws: Workspace, limit: int = 30) -> list[RejectFile]:
    out = []
    for p in rejects_files(ws)[:limit]:
        st = p.stat()
        out.append(RejectFile(str(p.relative_to(ws.root)), st.st_size,
                              datetime.fromtimestamp(st.st_mtime, UTC)))
    return out


def reject_preview(ws: Workspace, rel: str, lines: int = 20) -> list[str]:
    """The first lines of a rejects file, only if it lies inside ``<ws>/rejects``."""
    root = (ws.root / "rejects").resolve()
    path = (ws.root / rel).resolve()
    if not path.is_file() or root not in path.parents:
        return []
    with Path(path).open(errors="replace") as fh:
        return [line.rstrip("\n")[:500] for _, line in zip(range(lines), fh, strict=False)]


def collector_health(app_state: Any) -> list[tuple[str, float]]:
    """Counters and gauges of this server's collector (from its Prometheus registry)."""
    metrics = getattr(app_state, "metrics", None)
    if metrics is None:
        return []
    wanted = ("cxlens_events_received_total", "cxlens_events_accepted_total",
              "cxlens_events_rejected_total", "cxlens_wal_lag_seconds",
              "cxlens_wal_pending_segments", "cxlens_writer_rows_total",
              "cxlens_writer_errors", "cxlens_request_errors_total")
    totals: dict[str, float] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name in wanted:
                totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    return [(name, totals.get(name, 0.0)) for name in wanted]
