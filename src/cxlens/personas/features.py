"""Behavioural features per person, the input of persona discovery (docs/personas.md).

Everything is computed by DuckDB over ``with_person(ws, events)``: one fixed query for
the numeric measures and one *long* query (person, dimension, level, count) for the
categorical mixes (channels, devices, categories, traits). The long form is pivoted into
shares with NumPy, so the set of levels comes from the data without building SQL from
data values.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace

#: numeric features: name -> (group, skewed). Skewed counts and amounts are log1p'ed
#: before standardising (discover.py), so a few heavy buyers do not become a persona.
NUMERIC: dict[str, tuple[str, bool]] = {
    "sessions": ("activity", True),
    "events_per_session": ("activity", True),
    "views_per_session": ("activity", True),
    "recency_days": ("rfm", False),
    "orders": ("rfm", True),
    "revenue": ("rfm", True),
    "basket": ("rfm", True),
    "price": ("price", True),
    "stage_reached": ("stage", False),
    "days_to_convert": ("stage", True),
    "support_contacts": ("support", True),
    "feedback_score": ("feedback", False),
}
#: categorical mixes: dimension -> group. Each level becomes a share column "dim=level".
CATEGORICAL = {"channel": "channels", "device": "devices", "category": "categories", "trait": "traits"}
GROUPS = ("activity", "rfm", "price", "stage", "support", "feedback", "channels", "devices", "categories",
          "traits")
#: what the clustering uses unless ``[personas] features`` says otherwise: what people
#: *do* (mix of channels, devices, categories, price level, visit pattern). Outcomes
#: (revenue, stage) and declared traits are left to the explanation, so a persona is not
#: just "the ones who bought" and works for persons who never identified.
DEFAULT_FEATURES = ("activity", "price", "channels", "devices", "categories")
#: identify / group traits read as categorical mixes (B2C and B2B firmographics)
TRAITS = ("age_group", "gender", "region", "industry", "employees", "size", "role")
STAGES = ("awareness", "consideration", "decision", "fulfillment", "renewal")
MAX_LEVELS = 16  # per dimension: rarer levels are folded away (too small to describe anyone)

_NUMERIC_SQL = """
WITH e AS (
  SELECT person_id, timestamp, type, event, session_id, revenue,
         TRY_CAST(json_extract_string(properties, '$.price') AS DOUBLE) AS price,
         TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE)
           / nullif(TRY_CAST(json_extract_string(properties, '$.scale_max') AS DOUBLE), 0) AS score
  FROM {v}),
p AS (
  SELECT person_id,
    count(DISTINCT session_id) AS sessions,
    count(*) FILTER (WHERE session_id IS NOT NULL) AS session_events,
    count(*) FILTER (WHERE event = 'Product Viewed') AS views,
    date_diff('second', max(timestamp), (SELECT max(timestamp) FROM e)) / 86400.0 AS recency_days,
    count(*) FILTER (WHERE event IN ('Order Completed', 'Contract Signed')) AS orders,
    coalesce(sum(revenue), 0) AS revenue,
    avg(price) FILTER (WHERE event = 'Product Viewed') AS price,
    CASE WHEN count(*) FILTER (WHERE event IN ('Contract Renewed')) > 0
           OR count(*) FILTER (WHERE event = 'Order Completed') > 1 THEN 4
         WHEN count(*) FILTER (WHERE event IN ('Order Delivered', 'Order Shipped')) > 0 THEN 3
         WHEN count(*) FILTER (WHERE event IN ('Order Completed', 'Contract Signed')) > 0 THEN 2
         WHEN count(*) FILTER (WHERE event IN ('Product Viewed', 'Product Added', 'Whitepaper Downloaded',
                                               'Demo Requested', 'Checkout Started')) > 0 THEN 1
         ELSE 0 END AS stage_reached,
    date_diff('second', min(timestamp),
              min(timestamp) FILTER (WHERE event IN ('Order Completed', 'Contract Signed'))) / 86400.0
      AS days_to_convert,
    count(*) FILTER (WHERE event = 'Ticket Created') AS support_contacts,
    avg(score) FILTER (WHERE event = 'Survey Answered') AS feedback_score
  FROM e GROUP BY person_id)
SELECT person_id, sessions,
  session_events / greatest(sessions, 1) AS events_per_session,
  views / greatest(sessions, 1) AS views_per_session,
  recency_days, orders, revenue, revenue / nullif(orders, 0) AS basket, price, stage_reached,
  days_to_convert, support_contacts, feedback_score
FROM p ORDER BY person_id
"""

# channel: share of landing pages (the session's entry channel); device: share of events;
# category: share of product views; trait: latest identify/group value (one level per key)
_LONG_SQL = """
WITH e AS (SELECT *, json_extract_string(context, '$.device.type') AS device,
                  coalesce(json_extract_string(context, '$.traits'), '{{}}') AS ctraits FROM {v})
SELECT person_id, 'channel' AS dim, channel AS level, count(*)::DOUBLE AS n FROM e
  WHERE type = 'page' AND channel IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'device', device, count(*) FROM e WHERE device IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'category', json_extract_string(properties, '$.category'), count(*) FROM e
  WHERE event = 'Product Viewed' AND json_extract_string(properties, '$.category') IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'trait', k || ':' || arg_max(val, timestamp), 1.0 FROM (
  SELECT person_id, timestamp, unnest(?::VARCHAR[]) AS k,
         json_extract_string(json_merge_patch(coalesce(properties, '{{}}'), ctraits),
                             '$.' || unnest(?::VARCHAR[])) AS val
  FROM e WHERE type IN ('identify', 'group'))
  WHERE val IS NOT NULL GROUP BY person_id, k
"""


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    project: str
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_levels: int = MAX_LEVELS


@dataclass(frozen=True, slots=True)
class Features:
    """One row per person. ``matrix`` holds every feature (NaN = not applicable, e.g. no
    order yet); ``groups`` names each column's group, ``skewed`` which columns get log1p."""

    persons: np.ndarray  # object array of person ids, sorted
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    skewed: np.ndarray  # bool per column
    matrix: np.ndarray  # float64, persons x columns
    spec: FeatureSpec = field(repr=False, default=FeatureSpec(""))

    def select(self, groups: tuple[str, ...]) -> np.ndarray:
        return np.array([g in groups for g in self.groups], dtype=bool)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, self.columns.index(name)]


def spec_from_config(ws: Workspace, project: str) -> FeatureSpec:
    cfg = ws.config.get("personas", {})
    feats = tuple(cfg.get("features", DEFAULT_FEATURES))
    unknown = [f for f in feats if f not in GROUPS]
    if unknown or not feats:
        raise ConfigError(f"[personas] features = {list(feats)}: unknown {unknown}; choose from {', '.join(GROUPS)}")
    return FeatureSpec(project, feats, int(cfg.get("max_levels", MAX_LEVELS)))


def _ensure_resolved(ws: Workspace, project: str) -> None:
    from cxlens.identity import store
    from cxlens.identity.resolve import MAP, resolve

    if store.sql_source(ws, MAP, project) is None and ws.event_files(project):
        resolve(ws, project)


def pivot_shares(persons: pa.Array, dims: pa.Array, levels: pa.Array, counts: np.ndarray,
                 index: dict[str, int], max_levels: int,
                 keep: dict[str, list[str]] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """Long (person, dim, level, n) rows -> share columns ``dim=level`` per person.

    ``index`` maps person id -> row. Levels per dimension are the ``max_levels`` most
    frequent ones, or ``keep`` (a stored model's levels, so ``assign`` sees the columns
    the model was fitted on)."""
    rows = np.array([index.get(p, -1) for p in persons.to_pylist()], dtype=np.int64) if len(persons) else \
        np.zeros(0, np.int64)
    dim_list = dims.to_pylist()
    level_list = levels.to_pylist()
    names: list[str] = []
    groups: list[str] = []
    blocks: list[np.ndarray] = []
    dim_arr = np.array(dim_list, dtype=object)
    for dim, group in CATEGORICAL.items():
        sel = (dim_arr == dim) & (rows >= 0)
        lv = np.array(level_list, dtype=object)[sel]
        n, r = counts[sel], rows[sel]
        if keep is not None:
            chosen = keep.get(dim, [])
        else:
            totals: dict[str, float] = {}
            for level, c in zip(lv.tolist(), n.tolist(), strict=True):
                totals[level] = totals.get(level, 0.0) + c
            chosen = sorted(totals, key=lambda x: (-totals[x], x))[:max_levels]
        pos = {level: i for i, level in enumerate(chosen)}
        col = np.array([pos.get(level, -1) for level in lv.tolist()], dtype=np.int64)
        block = np.zeros((len(index), len(chosen)))
        denom = np.zeros(len(index))
        np.add.at(denom, r, n)  # shares of *all* the person's rows, folded levels included
        ok = col >= 0
        np.add.at(block, (r[ok], col[ok]), n[ok])
        if dim == "trait":
            denom = np.ones(len(index))  # one value per trait key: a 0/1 indicator
        block /= np.maximum(denom, 1e-12)[:, None]
        names += [f"{dim}={level}" for level in chosen]
        groups += [group] * len(chosen)
        blocks.append(block)
    return names, groups, np.hstack(blocks) if blocks else np.zeros((len(index), 0))


def compute(ws: Workspace, spec: FeatureSpec, keep: dict[str, list[str]] | None = None) -> Features:
    """Features of every person with events in ``spec.project`` (resolving identity first
    when it never ran, so anonymous devices join their person)."""
    from cxlens.identity import with_person

    _ensure_resolved(ws, spec.project)
    con = ws.con
    view = f"_pf_{uuid.uuid4().hex[:8]}"
    with_person(ws, ws.events(spec.project), spec.project).create_view(view, replace=True)
    try:
        num = con.sql(_NUMERIC_SQL.format(v=view)).to_arrow_table()
        traits = list(TRAITS)
        long = con.sql(_LONG_SQL.format(v=view), params=[traits, traits]).to_arrow_table()
    finally:
        con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
    persons = np.array(num.column("person_id").to_pylist(), dtype=object)
    index = {p: i for i, p in enumerate(persons.tolist())}
    numeric = list(NUMERIC)
    mat = np.column_stack([pc.cast(num.column(c), pa.float64()).to_numpy(zero_copy_only=False)
                           for c in numeric]) if len(persons) else np.zeros((0, len(numeric)))
    names, groups, shares = pivot_shares(long.column("person_id"), long.column("dim"), long.column("level"),
                                         long.column("n").to_numpy(), index, spec.max_levels, keep)
    return Features(
        persons=persons,
        columns=tuple(numeric + names),
        groups=tuple([NUMERIC[c][0] for c in numeric] + groups),
        skewed=np.array([NUMERIC[c][1] for c in numeric] + [False] * len(names)),
        matrix=np.hstack([mat, shares]),
        spec=spec,
    )


def levels_of(f: Features) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {d: [] for d in CATEGORICAL}
    for c in f.columns:
        if "=" in c:
            dim, level = c.split("=", 1)
            out[dim].append(level)
    return out
