"""Profiles of persons and B2B accounts: sent traits, computed traits, members.

Traits come from identify calls (``context.traits`` as Segment/RudderStack send them,
merged over ``properties`` as the simulator and PostHog ``$set`` send them). Every
observation is kept (one profiles row each); the current value of a trait is the one
from the most trusted source (``[profiles] source_precedence`` in cxlens.toml, first
wins; unlisted sources rank after the listed ones), then the latest observation.
Computed traits (first/last seen, first/last-touch channel, orders, revenue,
channels, devices) are derived from the person's events on every build, never sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from cxlens.errors import NotFound
from cxlens.identity import store
from cxlens.identity.resolve import person_of, with_person
from cxlens.model.tables import ACCOUNTS_SCHEMA, PROFILES_SCHEMA
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
            FROM _p WHERE type = 'identify'))
"""

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
FROM _p GROUP BY person_id
"""

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
    return Profile(project, person, ids, traits, sources, computed, timeline)


def build_profiles(ws: Workspace, project: str | None = None) -> int:
    """Write the profiles table of all persons (observed + computed rows); returns rows."""
    project = project or ws.default_project
    con = ws.con
    with ws.writing():
        with_person(ws, ws.events(project), project).create_view("_p", replace=True)
        try:
            now = time.time()
            observed = con.sql(_OBSERVED).to_arrow_table()
            comp = con.sql(_COMPUTED, params=[list(ORDER_EVENTS)]).to_arrow_table()
        finally:
            con.execute("DROP VIEW IF EXISTS _p").fetchall()
        n = comp.num_rows
        stamp = pa.array([int(now * 1e6)] * n, pa.int64()).cast(PROFILES_SCHEMA.field("observed_at").type)
        parts = [observed]
        for trait in COMPUTED_TRAITS:
            values = [orjson.dumps(_json(v)).decode() for v in comp.column(trait).to_pylist()]
            parts.append(pa.table({
                "person_id": comp.column("person_id"), "trait": pa.array([trait] * n),
                "value": pa.array(values), "trait_source": pa.array(["cxlens"] * n),
                "observed_at": stamp, "computed": pa.array([True] * n)}))
        table = pa.concat_tables([p.select(["person_id", "trait", "value", "trait_source", "observed_at",
                                            "computed"]).cast(PROFILES_SCHEMA.remove(0)) for p in parts])
        table = table.add_column(0, "project", pa.array([project] * table.num_rows, pa.string()))
        store.commit(ws, PROFILES, project, [table], retire=store.live(ws, PROFILES, project),
                     kind="profiles", schema=PROFILES_SCHEMA)
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
