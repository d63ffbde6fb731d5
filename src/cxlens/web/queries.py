"""Shared pieces of the dashboard's queries: the period, and the events of one project
as DuckDB views on a private connection.

Each request gets its own in-memory DuckDB connection (a few ms) so that the views it
defines cannot collide with another request's; the event files are the catalog's
snapshot, as ``Workspace.events`` reads them. Persons are identity's resolved persons
(``with_person``: the same people every analysis counts); the server keeps them current
(``identity.freshness``). Analysis views leave out persons who denied analytics consent,
as the journey analyses do; the profile lookup sees everyone, for access requests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from cxlens.store import duck
from cxlens.store.workspace import Workspace

EVENT_COLUMNS = ("event_id, timestamp, type, event, anonymous_id, user_id, account_id, "
                 "channel, source, session_id, properties, context, revenue, currency, date")


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive dates of the period shown and of the one it is compared with."""

    start: date
    end: date
    prev_start: date
    prev_end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        end = self.end + timedelta(days=1)
        return datetime(end.year, end.month, end.day, tzinfo=UTC)


def last_days(days: int, end: date) -> Period:
    start = end - timedelta(days=days - 1)
    prev_end = start - timedelta(days=1)
    return Period(start, end, prev_end - timedelta(days=days - 1), prev_end)


def month_period(anchor: date) -> Period:
    """The calendar month before ``anchor``'s month, compared with the month before it."""
    first = anchor.replace(day=1)
    end = first - timedelta(days=1)
    start = end.replace(day=1)
    prev_end = start - timedelta(days=1)
    return Period(start, end, prev_end.replace(day=1), prev_end)


def data_dates(ws: Workspace, project: str) -> tuple[date, date] | None:
    """First and last day with events, from the catalog alone (no file is read)."""
    rows = ws.catalog.execute(
        "SELECT min(part), max(part) FROM files WHERE tbl = 'events' AND project = ?",
        (project,)).fetchall()
    if not rows or rows[0][0] is None:
        return None
    return date.fromisoformat(str(rows[0][0])), date.fromisoformat(str(rows[0][1]))


def default_end(ws: Workspace, project: str, today: date | None = None) -> date:
    """Periods end today, or on the last day with data when the data is older (demo
    data, an archive): an empty dashboard helps nobody."""
    today = today or datetime.now(UTC).date()
    span = data_dates(ws, project)
    if span is None:
        return today
    return min(today, span[1])


def snapshot_key(ws: Workspace, project: str) -> tuple[int, int, str | None]:
    """Changes whenever what the pages show can change (for caching results): the
    project's live files of any table (events, identity map, profiles, feedback) and its
    latest persona run."""
    from cxlens.personas.store import latest_id

    rows = ws.catalog.execute(
        "SELECT count(*), coalesce(max(batch_id), 0) FROM files WHERE project = ?",
        (project,)).fetchall()
    return int(rows[0][0]), int(rows[0][1]), latest_id(ws, project)


@dataclass(frozen=True, slots=True)
class PersonaOption:
    id: int
    name: str


def persona_options(ws: Workspace, project: str, lang: str) -> list[PersonaOption]:
    """The personas of the project's latest run, for the segment selector (none yet: [])."""
    from cxlens.errors import NotFound
    from cxlens.personas.store import read_run_doc

    try:
        doc = read_run_doc(ws, project)
    except NotFound:
        return []
    key = "name_de" if lang == "de" else "name_en"
    return [PersonaOption(i, str(p.get(key) or p.get("name_en") or i))
            for i, p in enumerate(doc.get("personas", []))]


def register_personas(con: duckdb.DuckDBPyConnection, ws: Workspace, project: str,
                      lang: str = "en") -> str | None:
    """Register ``_personas`` (person_id, segment = persona name) on ``con`` from the latest
    persona run; its name, or None without a run."""
    from cxlens.errors import NotFound
    from cxlens.personas.store import current_assignments

    try:
        t = current_assignments(ws, project, lang=lang)
    except NotFound:
        return None
    con.register("_personas", pa.table({"person_id": t.column("person_id"),
                                        "segment": t.column("persona_name")}))
    return "_personas"


def _persona_members(ws: Workspace, project: str, persona: int) -> pa.Table:
    from cxlens.personas.store import current_assignments

    t = current_assignments(ws, project)
    import pyarrow.compute as pc

    return t.filter(pc.equal(t.column("persona_id"), pa.scalar(persona, pa.int32()))).select(
        ["person_id"])


_DENIED: dict[tuple[str, str], tuple[tuple[int, int, str | None], list[str]]] = {}
_DENIED_LOCK = threading.Lock()


def _denied(ws: Workspace, project: str) -> list[str]:
    """Persons who denied analytics, computed once per snapshot of the project (every page
    request asks; the answer only changes with new events or a new identity map)."""
    from cxlens.privacy.consent import denied

    key = (str(ws.root), project)
    snap = snapshot_key(ws, project)
    with _DENIED_LOCK:
        hit = _DENIED.get(key)
    if hit is not None and hit[0] == snap:
        return hit[1]
    gone = denied(ws, project, "analytics")
    with _DENIED_LOCK:
        if len(_DENIED) > 64:
            _DENIED.clear()
        _DENIED[key] = (snap, gone)
    return gone


def connect(ws: Workspace, project: str, persona: int | None = None
            ) -> duckdb.DuckDBPyConnection:
    """A private connection with views ``ev`` (the project's events), ``pev_all`` (plus
    ``person_id``) and ``pev`` (analysable: ``person`` column, consent honoured; only the
    members of ``persona`` of the latest persona run when given)."""
    con = duck.connect()
    con.execute("SET enable_progress_bar = false").fetchall()
    engine = ws.config.get("engine", {})
    if "memory_limit" in engine:
        con.execute("SET memory_limit = ?", [str(engine["memory_limit"])]).fetchall()
    if "threads" in engine:
        con.execute("SET threads = ?", [int(engine["threads"])]).fetchall()
    files = [str(ws.root / f.path) for f in ws.event_files(project)]
    if files:
        rel = con.sql(
            f"SELECT {EVENT_COLUMNS} FROM read_parquet($files, hive_partitioning = true, "
            "hive_types = {'project': VARCHAR, 'date': DATE})", params={"files": files})
    else:
        rel = con.sql(
            "SELECT NULL::VARCHAR event_id, NULL::TIMESTAMPTZ timestamp, NULL::VARCHAR type, "
            "NULL::VARCHAR event, NULL::VARCHAR anonymous_id, NULL::VARCHAR user_id, "
            "NULL::VARCHAR account_id, NULL::VARCHAR channel, NULL::VARCHAR source, "
            "NULL::VARCHAR session_id, NULL::VARCHAR properties, NULL::VARCHAR context, "
            "NULL::DOUBLE revenue, NULL::VARCHAR currency, NULL::DATE date WHERE false")
    rel.create_view("ev")
    from cxlens.identity import with_person
    with_person(ws, con.table("ev"), project).create_view("_resolved")
    con.execute("CREATE VIEW pev_all AS SELECT *, person_id AS person FROM _resolved").fetchall()
    gone = _denied(ws, project) if files else []
    con.register("_denied", pa.table({"person_id": pa.array(gone, pa.string())}))
    segment = ""
    if persona is not None:
        con.register("_segment", _persona_members(ws, project, persona))
        segment = " AND person_id IN (SELECT person_id FROM _segment)"
    con.execute(f"""
        CREATE VIEW pev AS
        SELECT * FROM pev_all WHERE person_id NOT IN (SELECT person_id FROM _denied){segment}
    """).fetchall()
    return con


def feedback_files(ws: Workspace, project: str) -> list[str]:
    folder = ws.root / "tables" / "feedback" / f"project={project}"
    return sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []


def rejects_files(ws: Workspace) -> list[Path]:
    folder = ws.root / "rejects"
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime,
                  reverse=True) if folder.is_dir() else []

