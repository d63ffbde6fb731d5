"""Profiles of persons and B2B accounts: sent traits, computed traits, members.

Traits come from identify calls (``context.traits`` as Segment/RudderStack send them,
merged over ``properties`` as the simulator and PostHog ``$set`` send them). Every
observation is kept (one profiles row each); the current value of a trait is the one
from the most trusted source (``[profiles] source_precedence`` in cxlens.toml, first
wins; unlisted sources rank after the listed ones), then the latest observation.
Computed traits (first/last seen, first/last-touch channel, orders, revenue,
channels, devices) are derived from the person's events on every build, never sent.
Other modules add computed traits of their own (e.g. the journey stage) with
``write_computed_traits``; every write is kept as history, the latest one is current.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import NotFound, ValidationError
from cxlens.identity import store
from cxlens.identity.resolve import person_of, with_person
from cxlens.model.tables import ACCOUNTS_SCHEMA, PROFILES_SCHEMA
from cxlens.store import duck
from cxlens.store.workspace import Workspace

PROFILES = "profiles"
ACCOUNTS = "accounts"
ORDER_EVENTS = ("Order Completed",)

_OBSERVED = """
SELECT person_id, k AS trait, CAST(json_extract(traits, '$."' || k || '"') AS VARCHAR) AS value,
       source AS trait_source, timestamp AS observed_at, false AS computed
FROM (SELECT person_id, source, timestamp, traits, unnest(json_keys(traits)) AS k
      FROM (SELECT person_id, source, timestamp,
                   json_merge_patch(coalesce(nullif(properties, ''), '{}'),
                                    coalesce(json_extract(context, '$.traits'), '{}')) AS traits
            FROM _p WHERE type = 'identify' AND person_id IS NOT NULL))
"""

#: events without any id (stored so when consent was denied) belong to no person
_COMPUTED = """
SELECT person_id,
  min(timestamp) AS first_seen, max(timestamp) AS last_seen,
  arg_min(channel, timestamp) FILTER (WHERE channel IS NOT NULL) AS first_touch_channel,
  arg_max(channel, timestamp) FILTER (WHERE channel IS NOT NULL) AS last_touch_channel,
  count(*) FILTER (WHERE event IN (SELECT unnest(?::VARCHAR[]))) AS orders,
  round(coalesce(sum(revenue), 0), 2) AS revenue,
  list(DISTINCT channel ORDER BY channel) FILTER (WHERE channel IS NOT NULL) AS channels,
  list(DISTINCT json_extract_string(context, '$.device.type') ORDER BY
       json_extract_string(context, '$.device.type'))
    FILTER (WHERE json_extract_string(context, '$.device.type') IS NOT NULL) AS devices,
  count(*) AS events, list(DISTINCT account_id) FILTER (WHERE account_id IS NOT NULL) AS accounts
FROM _p WHERE person_id IS NOT NULL GROUP BY person_id
"""

#: ``trait_source`` of the computed traits ``build_profiles`` derives from events
BUILTIN_SOURCE = "cxlens"
_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
_TRAIT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

COMPUTED_TRAITS = ("first_seen", "last_seen", "first_touch_channel", "last_touch_channel", "orders",
                   "revenue", "channels", "devices", "events", "accounts")


@dataclass(frozen=True, slots=True)
class Profile:
    project: str
    person_id: str
    ids: list[dict[str, str]]
    traits: dict[str, Any]
    trait_sources: dict[str, str]
    computed: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)  # events per name and channel
    computed_sources: dict[str, str] = field(default_factory=dict)  # trait -> module that wrote it


@dataclass(frozen=True, slots=True)
class AccountMember:
    person_id: str
    role: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class Account:
    project: str
    account_id: str
    name: str | None
    industry: str | None
    size: str | None
    country: str | None
    traits: dict[str, Any]
    members: list[AccountMember]
    buying_centre: dict[str, int]


def _precedence(ws: Workspace) -> list[str]:
    raw = ws.config.get("profiles", {}).get("source_precedence", [])
    return [str(s) for s in raw] if isinstance(raw, list) else []


def _json(v: Any) -> Any:
    if v is None:
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _current(rows: list[tuple[str, str | None, str, Any]], precedence: list[str]
             ) -> tuple[dict[str, Any], dict[str, str]]:
    """Source precedence first, then last write wins: rows are (trait, value, source, at)."""
    rank = {s: i for i, s in enumerate(precedence)}
    best: dict[str, tuple[int, Any, str | None, str]] = {}
    for trait, value, source, at in rows:
        key = (rank.get(source, len(rank)), -at.timestamp())
        old = best.get(trait)
        if old is None or key < (old[0], old[1]):
            best[trait] = (key[0], key[1], value, source)
    traits = {t: orjson.loads(v[2]) if v[2] is not None else None for t, v in sorted(best.items())}
    return traits, {t: v[3] for t, v in sorted(best.items())}


def _person_events(ws: Workspace, project: str, person: str) -> duckdb.DuckDBPyRelation:
    return with_person(ws, ws.events(project), project).filter(
        duckdb.ColumnExpression("person_id") == duckdb.ConstantExpression(person))


def profile(ws: Workspace, project: str | None, id_: str) -> Profile:
    """The profile of the person having ``id_`` (any id, or a person_id)."""
    project = project or ws.default_project
    person, ids = person_of(ws, project, id_)
    con = ws.con
    rel = _person_events(ws, project, person)
    view = "_p"
    rel.create_view(view, replace=True)
    try:
        observed = con.execute(_OBSERVED + " ORDER BY observed_at").fetchall()
        comp = con.execute(_COMPUTED, [list(ORDER_EVENTS)]).fetchall()
        cols = ["person_id", *COMPUTED_TRAITS]
        computed = {k: _json(v) for k, v in zip(cols, comp[0], strict=True)} if comp else {}
        computed.pop("person_id", None)
        timeline = [
            {"event": r[0], "channel": r[1], "count": r[2], "first": _json(r[3]), "last": _json(r[4])}
            for r in con.execute(
                "SELECT coalesce(event, type), channel, count(*), min(timestamp), max(timestamp) FROM _p"
                " GROUP BY ALL ORDER BY min(timestamp)").fetchall()
        ]
    finally:
        con.execute("DROP VIEW IF EXISTS _p").fetchall()
    traits, sources = _current([(r[1], r[2], r[3], r[4]) for r in observed], _precedence(ws))
    written = _written_traits(ws, project, person)
    computed.update({k: v for k, (v, _) in written.items()})
    origin = dict.fromkeys((k for k in computed if k not in written), BUILTIN_SOURCE)
    origin.update({k: src for k, (_, src) in written.items()})
    return Profile(project, person, ids, traits, sources, computed, timeline, origin)


def _written_traits(ws: Workspace, project: str, person: str) -> dict[str, tuple[Any, str]]:
    """The current value of each trait other modules wrote for ``person``: (value, source)."""
    src = store.sql_source(ws, PROFILES, project)
    if src is None:
        return {}
    rows = ws.con.execute(
        f"SELECT trait, arg_max(value, observed_at), arg_max(trait_source, observed_at) FROM {src}"
        " WHERE person_id = ? AND computed AND trait_source <> ? GROUP BY trait ORDER BY trait",
        [person, BUILTIN_SOURCE]).fetchall()
    return {r[0]: (orjson.loads(r[1]) if r[1] is not None else None, r[2]) for r in rows}


def _json_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Column values as JSON text (the profiles table's ``value``), vectorised: times
    as ISO 8601 in UTC, durations as seconds, dates as ISO dates, everything else as
    DuckDB's ``to_json`` writes it (strings quoted and escaped, lists as arrays)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_timestamp(arr.type):
        utc = arr if arr.type.tz is None else arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
        text = pc.replace_substring_regex(pc.strftime(utc, "%Y-%m-%dT%H:%M:%S"), r"\.0+$", "")
        arr = pc.binary_join_element_wise(text, pa.scalar("+00:00"), "")
    elif pa.types.is_duration(arr.type):
        per_s = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[arr.type.unit]
        arr = pc.divide(arr.cast(pa.int64()).cast(pa.float64()), per_s)
    elif pa.types.is_date(arr.type):
        arr = arr.cast(pa.string())
    con = duck.connect()
    try:
        con.register("_v", pa.table({"v": arr}))
        out = con.sql("SELECT CAST(to_json(v) AS VARCHAR) AS j FROM _v").to_arrow_table()
    finally:
        con.close()
    assert out is not None  # DuckDB's stubs allow None; a query always gives a table
    return out.column("j").combine_chunks()


def write_computed_traits(ws: Workspace, project: str | None, table: pa.Table, source: str, *,
                          observed_at: dt.datetime | None = None, locked: bool = False) -> int:
    """Write computed traits into the profiles table; returns the rows written.

    ``table`` has a ``person_id`` column (as ``with_person`` gives it) and one column
    per trait (e.g. ``journey_stage``, ``stage_entered_at``, ``time_in_stage``); each
    non-null cell becomes one profiles row (``computed = true``, ``trait_source =
    source``, ``observed_at`` = now unless given). Earlier writes are kept as history;
    ``profile`` shows the latest value of each trait, and ``identity resolve`` keeps
    these rows when it rebuilds its own computed traits. ``locked``: the caller already
    holds ``ws.writing()``.
    """
    project = project or ws.default_project
    if not isinstance(source, str) or not _SOURCE_RE.match(source) or source == BUILTIN_SOURCE:
        raise ValidationError(
            f"source {source!r}: name the writing module in lower case (letters, digits, '_', '.', ':',"
            f" '-'), e.g. 'journeys'; {BUILTIN_SOURCE!r} is reserved for identity resolve", field="source")
    if "person_id" not in table.column_names:
        raise ValidationError("the traits table needs a person_id column (cxlens.identity.with_person"
                              " adds it to events)", field="person_id")
    traits = [c for c in table.column_names if c != "person_id"]
    if not traits:
        raise ValidationError("the traits table has no trait column besides person_id; add one column"
                              " per trait", field="table")
    for name in traits:
        if not _TRAIT_RE.match(name):
            raise ValidationError(f"trait column {name!r}: use letters, digits, '_', '.' or '-' (at most"
                                  " 64, not starting with a digit)", field=name)
        if name in COMPUTED_TRAITS or name == "person_id":
            raise ValidationError(f"trait {name!r} is computed by identity resolve itself; choose another"
                                  " name", field=name)
    persons = table.column("person_id").combine_chunks()
    if not pa.types.is_string(persons.type) and not pa.types.is_large_string(persons.type):
        raise ValidationError("person_id must be a string column", field="person_id")
    at = observed_at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    ts_type = PROFILES_SCHEMA.field("observed_at").type
    parts = []
    for name in traits:
        values = _json_text(table.column(name))
        keep = pc.and_(pc.is_valid(values), pc.is_valid(persons))
        n = int(pc.sum(keep).as_py() or 0)
        if n == 0:
            continue
        parts.append(pa.table({
            "project": pa.repeat(pa.scalar(project, pa.string()), n),
            "person_id": pc.filter(persons, keep).cast(pa.string()),
            "trait": pa.repeat(pa.scalar(name, pa.string()), n),
            "value": pc.filter(values, keep),
            "trait_source": pa.repeat(pa.scalar(source, pa.string()), n),
            "observed_at": pa.repeat(pa.scalar(at, ts_type), n),
            "computed": pa.repeat(pa.scalar(True), n),
        }))
    if not parts:
        return 0
    rows = pa.concat_tables(parts)

    def _commit() -> None:
        store.commit(ws, PROFILES, project, [rows], kind="traits", schema=PROFILES_SCHEMA,
                     detail=orjson.dumps({"source": source, "traits": traits}).decode())

    if locked:
        _commit()
    else:
        with ws.writing():
            _commit()
    return int(rows.num_rows)


def build_profiles(ws: Workspace, project: str | None = None) -> int:
    """Write the profiles table of all persons (observed + computed rows); returns rows.

    Traits other modules wrote (``write_computed_traits``) are carried over, history
    included, for every person who still has events; those of person ids that no
    longer have any (merged into another person, or whose events retention deleted)
    are dropped with the rest of that person's rows.
    """
    project = project or ws.default_project
    con = ws.con
    with ws.writing():
        with_person(ws, ws.events(project), project).create_view("_p", replace=True)
        try:
            now = dt.datetime.now(dt.UTC)
            observed = con.sql(_OBSERVED).to_arrow_table()
            comp = con.sql(_COMPUTED, params=[list(ORDER_EVENTS)]).to_arrow_table()
        finally:
            con.execute("DROP VIEW IF EXISTS _p").fetchall()
        n = comp.num_rows
        ts_type = PROFILES_SCHEMA.field("observed_at").type
        cols = ["person_id", "trait", "value", "trait_source", "observed_at", "computed"]
        parts = [observed.select(cols).cast(PROFILES_SCHEMA.remove(0))]
        for trait in COMPUTED_TRAITS:
            parts.append(pa.table({
                "person_id": comp.column("person_id"), "trait": pa.repeat(pa.scalar(trait), n),
                "value": _json_text(comp.column(trait)), "trait_source": pa.repeat(pa.scalar(BUILTIN_SOURCE), n),
                "observed_at": pa.repeat(pa.scalar(now, ts_type), n), "computed": pa.repeat(pa.scalar(True), n),
            }).cast(PROFILES_SCHEMA.remove(0)))
        old = store.live(ws, PROFILES, project)
        src = store.sql_source(ws, PROFILES, project)
        if src is not None:
            con.register("_persons", comp.select(["person_id"]))
            try:
                written = con.sql(
                    f"SELECT {', '.join(cols)} FROM {src} SEMI JOIN _persons USING (person_id)"
                    " WHERE computed AND trait_source <> ?", params=[BUILTIN_SOURCE]).to_arrow_table()
            finally:
                con.unregister("_persons")
            parts.append(written.cast(PROFILES_SCHEMA.remove(0)))
        table = pa.concat_tables(parts)
        table = table.add_column(0, "project", pa.repeat(pa.scalar(project), table.num_rows))
        store.commit(ws, PROFILES, project, [table], retire=old, kind="profiles", schema=PROFILES_SCHEMA)
        return int(table.num_rows)


def account(ws: Workspace, project: str | None, account_id: str) -> Account:
    """Firmographics (group traits, then CRM rows in the accounts table, latest wins) and
    the account's people with their roles (the buying centre)."""
    project = project or ws.default_project
    con = ws.con
    rel = with_person(ws, ws.events(project), project)
    rel.create_view("_a", replace=True)
    try:
        groups = con.execute(
            "SELECT properties, timestamp FROM _a WHERE type = 'group' AND account_id = ?"
            " ORDER BY timestamp", [account_id]).fetchall()
        # members: persons with any event for the account; their role and title come
        # from their latest identify traits, wherever those were sent
        people = con.execute(
            "WITH t AS (SELECT person_id, timestamp, type, coalesce(json_extract(context, '$.traits'),"
            " properties) AS tr FROM _a WHERE person_id IN (SELECT person_id FROM _a WHERE account_id = ?))"
            " SELECT person_id,"
            " arg_max(json_extract_string(tr, '$.role'), timestamp) FILTER (WHERE type = 'identify'),"
            " arg_max(json_extract_string(tr, '$.title'), timestamp) FILTER (WHERE type = 'identify')"
            " FROM t GROUP BY person_id ORDER BY person_id", [account_id]).fetchall()
    finally:
        con.execute("DROP VIEW IF EXISTS _a").fetchall()
    traits: dict[str, Any] = {}
    for props, _ in groups:
        if props:
            traits.update(orjson.loads(props))
    crm = store.relation(ws, ACCOUNTS, project, ACCOUNTS_SCHEMA).filter(
        duckdb.ColumnExpression("account_id") == duckdb.ConstantExpression(account_id)
    ).order("updated_at").fetchall()
    for row in crm:
        rec = dict(zip(ACCOUNTS_SCHEMA.names, row, strict=True))
        traits.update(orjson.loads(rec["traits"]) if rec["traits"] else {})
        traits.update({k: rec[k] for k in ("name", "industry", "size", "country") if rec[k] is not None})
    if not groups and not people and not crm:
        raise NotFound(f"no account {account_id!r} in project {project!r}; check the id")
    size = traits.get("size", traits.get("employees"))
    members = [AccountMember(p, r, t) for p, r, t in people]
    centre: dict[str, int] = {}
    for m in members:
        centre[m.role or "unknown"] = centre.get(m.role or "unknown", 0) + 1
    return Account(project, account_id, traits.get("name"), traits.get("industry"),
                   None if size is None else str(size), traits.get("country"), traits, members, centre)
