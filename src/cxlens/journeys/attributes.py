"""Person-level attributes for breakdowns and segments: persona, account, profile traits.

An analysis names them like event fields (``breakdown = "persona"``, ``where
account.industry = Handel``, ``trait.age_group``); ``cxlens.engines.expr.Attr`` carries
the name, and the engine joins one small table (one row per person) onto the prepared
events by ``person_id`` — DuckDB with a join, Spark with a broadcast join of the same
table — so every analysis can break down or filter by them without knowing where they
come from:

| attribute | value | from |
|---|---|---|
| ``persona`` | ``"<id>: <name>"`` (``"-1: Unassigned"``) | the latest persona run (``personas.store.current_assignments``) |
| ``persona.id`` | ``"<id>"`` | the same |
| ``account`` | the account id of the person's latest event that has one | events |
| ``account.industry``, ``.size``, ``.country``, ``.name`` | firmographics | CRM rows (``accounts`` table, latest wins), else ``group`` traits (latest; size falls back to ``employees``) |
| ``trait.<key>`` | the profile trait's current value as text | ``profiles`` table: source precedence, then latest (sent and computed traits) |

A person without a value gets none (breakdowns show it as ``(none)``). The table is
built with DuckDB from the workspace's side tables and the analysable events, for
either engine, so both join exactly the same values.
"""

from __future__ import annotations

import uuid
from typing import Any

import duckdb
import pyarrow as pa

from cxlens.engines.expr import Attr
from cxlens.errors import NotFound, SpecError
from cxlens.store.workspace import Workspace

_ACCOUNT_BY_PERSON = """
SELECT person_id, first(account_id ORDER BY timestamp DESC, account_id DESC) AS value
FROM {events} WHERE account_id IS NOT NULL AND person_id IS NOT NULL GROUP BY person_id
"""

# group traits: the latest value each account sent; CRM rows override them
_FIRMOGRAPHIC = """
WITH grp AS (
  SELECT account_id, arg_max({group_value}, timestamp) FILTER (WHERE {group_value} IS NOT NULL)
         AS value
  FROM {events} WHERE type = 'group' AND account_id IS NOT NULL GROUP BY account_id
), crm AS ({crm}),
acct AS (
  SELECT coalesce(crm.account_id, grp.account_id) AS account_id,
         coalesce(crm.value, grp.value) AS value
  FROM grp FULL OUTER JOIN crm ON crm.account_id = grp.account_id
)
SELECT m.person_id, acct.value FROM ({by_person}) m JOIN acct ON acct.account_id = m.value
"""

_CRM = """
SELECT account_id, arg_max({crm_value}, updated_at) FILTER (WHERE {crm_value} IS NOT NULL) AS value
FROM {accounts} GROUP BY account_id
"""

_TRAIT = """
SELECT person_id,
       first(json_extract_string(value, '$') ORDER BY
             coalesce(list_position(?::VARCHAR[], trait_source), 1000000), observed_at DESC,
             value) AS value
FROM {profiles} WHERE trait = ? AND value IS NOT NULL GROUP BY person_id
"""


def _json_text(column: str, key: str) -> str:
    # key is one of ACCOUNT_FIELDS / "employees": fixed names, never user text
    return f"json_extract_string({column}, '$.{key}')"


def _firmographic(ws: Workspace, project: str, field: str, events: str) -> str:
    from cxlens.identity import store

    keys = [field] + (["employees"] if field == "size" else [])
    group_value = "coalesce(" + ", ".join(_json_text("properties", k) for k in keys) + ")"
    accounts = store.sql_source(ws, "accounts", project)
    if accounts is None:
        crm = "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS value WHERE false"
    else:
        crm_value = "coalesce(" + ", ".join(
            [f'"{field}"'] + [_json_text("traits", k) for k in keys]) + ")"
        crm = _CRM.format(crm_value=crm_value, accounts=accounts)
    return _FIRMOGRAPHIC.format(group_value=group_value, events=events, crm=crm,
                                by_person=_ACCOUNT_BY_PERSON.format(events=events))


def _persona(ws: Workspace, project: str, with_name: bool) -> pa.Table:
    from cxlens.personas.store import current_assignments

    try:
        t = current_assignments(ws, project)
    except NotFound:
        raise SpecError(f"persona: project {project!r} has no persona run yet; run: cxlens "
                        f"personas discover -p {project}", field="persona") from None
    ids = t.column("persona_id").cast(pa.string())
    if with_name:
        import pyarrow.compute as pc

        ids = pc.binary_join_element_wise(ids, t.column("persona_name"), ": ")
    return pa.table({"person_id": t.column("person_id"), "value": ids})


def _values(ws: Workspace, project: str, attr: Attr, events: str) -> pa.Table:
    """(person_id, value) for one attribute."""
    from cxlens.identity import store

    con = ws.con
    name = attr.name
    if name in ("persona", "persona.id"):
        return _persona(ws, project, name == "persona")
    if name == "account":
        return con.sql(_ACCOUNT_BY_PERSON.format(events=events)).to_arrow_table()
    if name.startswith("account."):
        return con.sql(_firmographic(ws, project, name.removeprefix("account."),
                                     events)).to_arrow_table()
    profiles = store.sql_source(ws, "profiles", project)
    if profiles is None:
        raise SpecError(f"{name}: project {project!r} has no profiles yet; run: cxlens identity "
                        f"resolve -p {project}", field=name)
    raw = ws.config.get("profiles", {}).get("source_precedence", [])
    precedence = [str(s) for s in raw] if isinstance(raw, list) else []
    return con.sql(_TRAIT.format(profiles=profiles),
                   params=[precedence, name.removeprefix("trait.")]).to_arrow_table()


def attribute_table(ws: Workspace, project: str | None, attrs: tuple[Attr, ...],
                    events: duckdb.DuckDBPyRelation) -> pa.Table:
    """One row per person with a value for any of ``attrs``: ``person_id`` plus one string
    column per attribute, named ``Attr.column``. ``events`` are the analysable events
    (``analysable_events``) the account of a person is read from."""
    project = project or ws.default_project
    view = f"_cx_attr_ev_{uuid.uuid4().hex[:12]}"
    events.create_view(view)
    try:
        parts = [_values(ws, project, a, view) for a in attrs]
    finally:
        ws.con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
    out: pa.Table | None = None
    for attr, part in zip(attrs, parts, strict=True):
        t = pa.table({"person_id": part.column("person_id").cast(pa.string()),
                      attr.column: part.column("value").cast(pa.string())})
        out = t if out is None else out.join(t, "person_id", join_type="full outer")
    assert out is not None
    return out.combine_chunks()


def attribute_schema(attrs: tuple[Attr, ...]) -> pa.Schema:
    return pa.schema([("person_id", pa.string())] + [(a.column, pa.string()) for a in attrs])


def join_sql(view: str, table_view: str, attrs: tuple[Attr, ...]) -> str:
    """A FROM source: the events view left-joined with the attribute table by person."""
    cols = ", ".join(f'a."{a.column}"' for a in attrs)
    return (f"(SELECT v.*, {cols} FROM {view} v LEFT JOIN {table_view} a "
            "ON a.person_id = v.person_id)")


def spark_join(spark: Any, df: Any, table: pa.Table, attrs: tuple[Attr, ...]) -> Any:
    """``df`` with the attribute columns, by a broadcast join of the same table."""
    from pyspark.sql import functions as F

    # Arrow straight into Spark (pyspark >= 4.0): no Python object per person
    rows = spark.createDataFrame(table.select(attribute_schema(attrs).names)
                                 .cast(attribute_schema(attrs)))
    small = rows.withColumnRenamed("person_id", "_attr_person")
    return df.join(F.broadcast(small), df["person_id"] == small["_attr_person"],
                   "left").drop("_attr_person")
