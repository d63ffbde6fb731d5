"""Retention: events and feedback older than N days are deleted, and so is everything
about a person who has nothing left.

Events are partitioned by UTC date, so retention retires whole day partitions (every
event of a day older than the cut-off) in one catalog transaction and then deletes
the files, and those of the files merges retired from these days, grace or not
(store/retired.py); readers of an older snapshot retry (``Workspace.query``). Feedback rows
(``tables/feedback``) dated before the cut-off are removed by rewriting their files
(temp file, fsync, rename).

Then every resolved person none of whose ids is on a remaining event or feedback row
is removed whole: their id map rows, every identity link that touches one of their
ids, and their profile rows. Persons who still have data keep their links (a link
holds two ids, its source, event id and time: it is what joins their remaining
events) and their profiles are rebuilt from what is left, so traits observed only on
deleted events go too (docs/privacy.md, Retention).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxlens.errors import ConfigError
from cxlens.identity import idmap, store
from cxlens.identity import links as linkstore
from cxlens.privacy.settings import privacy_settings
from cxlens.store import eventindex, retired
from cxlens.store.workspace import Workspace, _fsync_dir, _fsync_file, _sql_list

PROFILES = "profiles"


@dataclass(frozen=True, slots=True)
class RetentionResult:
    project: str
    days: int
    cutoff: str
    partitions: int
    files: int
    events_deleted: int
    feedback_deleted: int = 0
    persons_removed: int = 0
    ids_removed: int = 0
    links_removed: int = 0
    profile_rows: int = 0  # rows of the rebuilt profiles table (0: no profiles yet)


def _feedback_files(ws: Workspace, project: str) -> list[Path]:
    return sorted((ws.root / "tables" / "feedback" / f"project={project}").glob("*.parquet"))


def _expire_feedback(ws: Workspace, project: str, cutoff: dt.datetime) -> int:
    """Rewrite feedback files without rows dated before ``cutoff``; returns rows removed."""
    removed = 0
    for path in _feedback_files(ws, project):
        table = pq.read_table(path)
        if "timestamp" not in table.column_names or table.num_rows == 0:
            continue
        ts = table.column("timestamp")
        old = pc.less(ts, pa.scalar(cutoff, ts.type if ts.type.tz else pa.timestamp("us", tz="UTC")).cast(ts.type))
        n_old = int(pc.sum(old).as_py() or 0)
        if n_old == 0:
            continue
        removed += n_old
        keep = table.filter(pc.invert(pc.fill_null(old, False)))
        if keep.num_rows == 0:
            path.unlink()
        else:
            tmp = ws.root / "_tmp" / f"feedback-{uuid.uuid4().hex}.parquet"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(keep, tmp, compression="zstd")
            _fsync_file(tmp)
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    return removed


def _forget_persons(ws: Workspace, project: str) -> tuple[int, int, int]:
    """Remove map rows and links of persons with no id on any remaining event or
    feedback row. Returns (persons, ids, links) removed."""
    map_src = idmap.source(ws, project)
    if map_src is None:
        return 0, 0, 0
    con = ws.con
    files = [str(ws.root / f.path) for f in ws.event_files(project)]
    seen = []
    if files:
        ev = f"read_parquet({_sql_list(files)}, union_by_name = true)"
        seen += [f"SELECT 'user_id' AS id_type, user_id AS id FROM {ev} WHERE user_id IS NOT NULL",
                 f"SELECT 'anonymous_id', anonymous_id FROM {ev} WHERE anonymous_id IS NOT NULL"]
    fb = [str(p) for p in _feedback_files(ws, project)]
    if fb:
        src = f"read_parquet({_sql_list(fb)}, union_by_name = true)"
        seen += [f"SELECT 'user_id', user_id FROM {src} WHERE user_id IS NOT NULL",
                 f"SELECT 'anonymous_id', anonymous_id FROM {src} WHERE anonymous_id IS NOT NULL"]
    seen_sql = " UNION ".join(seen) if seen else "SELECT NULL::VARCHAR AS id_type, NULL::VARCHAR AS id WHERE false"
    gone = con.sql(
        f"WITH m AS (SELECT id_type, id, person_id FROM {map_src}),"
        f" live AS (SELECT DISTINCT person_id FROM m SEMI JOIN ({seen_sql}) s USING (id_type, id))"
        " SELECT id_type, id, person_id FROM m ANTI JOIN live USING (person_id)"
    ).to_arrow_table()
    if gone.num_rows == 0:
        return 0, 0, 0
    persons = int(pc.count_distinct(gone.column("person_id")).as_py())
    con.register("_gone", gone)
    try:
        idmap.write_base(ws, project, con.sql(
            f"SELECT id_type, id, person_id FROM {map_src} ANTI JOIN _gone USING (id_type, id)"), "retention")
        links_removed = 0
        link_src = linkstore.source(ws, project)
        if link_src is not None:  # rewritten with their current state: no state file keeps a gone id
            keep = con.sql(
                f"SELECT * FROM {link_src} l WHERE NOT EXISTS (SELECT 1 FROM _gone g WHERE"
                " (g.id_type = l.id_type_a AND g.id = l.id_a) OR (g.id_type = l.id_type_b AND g.id = l.id_b))")
            before = sum(f.rows for f in store.live(ws, linkstore.LINKS, project))
            linkstore.replace(ws, project, keep, "retention")
            links_removed = before - sum(f.rows for f in store.live(ws, linkstore.LINKS, project))
    finally:
        con.unregister("_gone")
    return persons, gone.num_rows, links_removed


def retention(ws: Workspace, project: str | None = None, days: int | None = None,
              today: dt.date | None = None) -> RetentionResult:
    """Delete the project's events and feedback dated before ``today - days`` (UTC
    days), then everything about persons who have nothing left. ``days`` defaults to
    ``[privacy] retention_days`` of the project."""
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
    cut = today - dt.timedelta(days=days)
    cutoff = cut.isoformat()
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
        eventindex.drop_runs(ws.root, [f.path for f in old])
        # what merges retired from those days goes too, grace or not (store/retired.py)
        retired.delete(ws.root, ws.catalog, [
            f for f in retired.listed(ws.catalog, "events") if f.project == project and f.part < cutoff])
        feedback = _expire_feedback(ws, project, dt.datetime(cut.year, cut.month, cut.day, tzinfo=dt.UTC))
        persons, ids, links = _forget_persons(ws, project)
        had_profiles = bool(store.live(ws, PROFILES, project))
    profile_rows = 0
    if had_profiles:
        from cxlens.identity.profiles import build_profiles

        profile_rows = build_profiles(ws, project)
    return RetentionResult(project, days, cutoff, len({f.part for f in old}), len(old),
                           sum(f.rows for f in old), feedback, persons, ids, links, profile_rows)
