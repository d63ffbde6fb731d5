"""Retention: events older than N days are deleted.

Events are partitioned by UTC date, so retention retires whole day partitions (every
event of a day older than the cut-off) in one catalog transaction and then deletes
the files; readers of an older snapshot retry (``Workspace.query``). Side tables
derived from events (profiles) are rebuilt by the next ``cxlens identity resolve``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass

from cxlens.errors import ConfigError
from cxlens.privacy.settings import privacy_settings
from cxlens.store.workspace import Workspace


@dataclass(frozen=True, slots=True)
class RetentionResult:
    project: str
    days: int
    cutoff: str
    partitions: int
    files: int
    events_deleted: int


def retention(ws: Workspace, project: str | None = None, days: int | None = None,
              today: dt.date | None = None) -> RetentionResult:
    """Delete the project's events dated before ``today - days`` (UTC days).
    ``days`` defaults to ``[privacy] retention_days`` of the project."""
    project = project or ws.default_project
    if days is None:
        raw = privacy_settings(ws, project).get("retention_days")
        if raw is None:
            raise ConfigError(
                f"no retention for project {project!r}; pass --days N or set [privacy] retention_days"
                " in cxlens.toml")
        days = raw
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"retention days must be a whole number of at least 1, not {days!r}")
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = (today - dt.timedelta(days=days)).isoformat()
    with ws.writing():
        old = [f for f in ws.catalog.live_files("events", project) if f.part < cutoff]
        batch_id = ws.catalog.start_batch("retention", "privacy", project)
        with ws.catalog.transaction() as db:
            db.executemany("DELETE FROM files WHERE path = ?", [(f.path,) for f in old])
            db.execute(
                "UPDATE batches SET finished_at = ?, rows_in = ?, detail = ? WHERE id = ?",
                (time.time(), sum(f.rows for f in old),
                 f'{{"days": {days}, "cutoff": "{cutoff}", "files": {len(old)}}}', batch_id))
        for f in old:
            path = ws.root / f.path
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # the day directory may hold other files
                path.parent.rmdir()
    return RetentionResult(project, days, cutoff, len({f.part for f in old}), len(old),
                           sum(f.rows for f in old))
