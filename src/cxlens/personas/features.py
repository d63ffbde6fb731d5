"""Behavioural features per person, the input of persona discovery (docs/personas.md).

Everything is computed by DuckDB over ``with_person(ws, events)``: one fixed query for
the numeric measures and one *long* query (person, dimension, level, count) for the
categorical mixes (channels, devices, categories, traits). The long form is pivoted into
shares with NumPy, so the set of levels comes from the data without building SQL from
data values.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import ConfigError, ValidationError
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
    "sentiment": ("feedback", False),
    "members": ("buying_centre", True),
}
#: categorical mixes: dimension -> group. Each level becomes a share column "dim=level".
CATEGORICAL = {"channel": "channels", "device": "devices", "category": "categories", "trait": "traits",
               "role": "buying_centre", "pain": "pain"}
#: mixes read as 0/1 indicators per unit (one value per key), not as shares of rows
INDICATORS = ("trait", "pain")
GROUPS = ("activity", "rfm", "price", "stage", "support", "feedback", "channels", "devices", "categories",
          "traits", "buying_centre", "pain")
#: what the clustering uses unless ``[personas] features`` says otherwise: what people
#: *do* (mix of channels, devices, categories, price level, visit pattern). Outcomes
#: (revenue, stage), pain points and declared traits are left to the explanation, so a
#: persona is not just "the ones who bought" and works for persons who never identified.
DEFAULT_FEATURES = ("activity", "price", "channels", "devices", "categories")
#: identify / group traits read as categorical mixes (B2C and B2B firmographics)
TRAITS = ("age_group", "gender", "region", "industry", "employees", "size", "role")
#: at account level the role is a mix over the members (``role=...``), not one trait
ACCOUNT_TRAITS = tuple(t for t in TRAITS if t != "role")
STAGES = ("awareness", "consideration", "decision", "fulfillment", "renewal")
MAX_LEVELS = 16  # per dimension: rarer levels are folded away (too small to describe anyone)
LEVELS = ("person", "account")
#: events that make up the "typical journey": each unit's first occurrence of each, in order
MILESTONES = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed", "Order Delivered",
              "Ticket Created", "Whitepaper Downloaded", "Demo Requested", "Sales Call", "Quote Sent",
              "Contract Signed", "Contract Renewed", "Contract Cancelled")

# {v}: the events view with person_id (at account level person_id is the account and
# member_id the person); {members}: the buying-centre size expression; {milestones}: the
# first time of each milestone. All are fixed strings chosen by the code, never user
# input. JSON is parsed only on the rows that need it (CASE), and every measure over all
# events is one aggregate of one GROUP BY, so the events are scanned once.
_NUMERIC_SQL = """
SELECT person_id,
  count(DISTINCT session_id)::DOUBLE AS sessions,
  count(session_id)::DOUBLE AS session_events,
  count(*) FILTER (WHERE event = 'Product Viewed')::DOUBLE AS views,
  epoch(max(timestamp)) AS last_seen,
  count(*) FILTER (WHERE event IN ('Order Completed', 'Contract Signed', 'Deal Won'))::DOUBLE AS orders,
  count(*) FILTER (WHERE event = 'Order Completed')::DOUBLE AS shop_orders,
  coalesce(sum(revenue), 0)::DOUBLE AS revenue,
  avg(CASE WHEN event = 'Product Viewed' THEN TRY_CAST(json_extract_string(properties, '$.price') AS DOUBLE) END)
    AS price,
  max(CASE WHEN event = 'Contract Renewed' THEN 4
           WHEN event IN ('Order Delivered', 'Order Shipped') THEN 3
           WHEN event IN ('Order Completed', 'Contract Signed', 'Deal Won') THEN 2
           WHEN event IN ('Product Viewed', 'Product Added', 'Whitepaper Downloaded', 'Demo Requested',
                          'Checkout Started', 'Lead Created') THEN 1 ELSE 0 END)::DOUBLE AS stage_reached,
  (epoch(min(timestamp) FILTER (WHERE event IN ('Order Completed', 'Contract Signed', 'Deal Won'))) - epoch(min(timestamp)))
    / 86400.0 AS days_to_convert,
  count(*) FILTER (WHERE event = 'Ticket Created')::DOUBLE AS support_contacts,
  avg(CASE WHEN event = 'Survey Answered' THEN TRY_CAST(json_extract_string(properties, '$.score') AS DOUBLE)
           / nullif(TRY_CAST(json_extract_string(properties, '$.scale_max') AS DOUBLE), 0) END) AS feedback_score,
  {members}::DOUBLE AS members,
  arg_min(channel, timestamp) FILTER (WHERE type = 'page' AND channel IS NOT NULL) AS first_channel,
  {milestones}
FROM {v} GROUP BY person_id ORDER BY person_id
"""

# channel: share of landing pages (the session's entry channel); device: share of page views;
# category: share of product views; trait: latest identify/group value (one level per key);
# pain: 0/1 per pain point (late delivery, ticket topic, abandoned checkout, cancellation)
_LONG_SQL = """
SELECT person_id, 'channel' AS dim, channel AS level, count(*)::DOUBLE AS n FROM {v}
  WHERE type = 'page' AND channel IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'device', device, count(*) FROM (
  SELECT person_id, json_extract_string(context, '$.device.type') AS device FROM {v} WHERE type = 'page')
  WHERE device IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'category', category, count(*) FROM (
  SELECT person_id, json_extract_string(properties, '$.category') AS category FROM {v} WHERE event = 'Product Viewed')
  WHERE category IS NOT NULL GROUP BY ALL
UNION ALL
SELECT person_id, 'trait', k || ':' || arg_max(val, timestamp), 1.0 FROM (
  SELECT person_id, timestamp, unnest(?::VARCHAR[]) AS k,
         json_extract_string(json_merge_patch(coalesce(properties, '{{}}'),
                                              coalesce(json_extract_string(context, '$.traits'), '{{}}')),
                             '$.' || unnest(?::VARCHAR[])) AS val
  FROM {v} WHERE type IN ('identify', 'group'))
  WHERE val IS NOT NULL GROUP BY person_id, k
UNION ALL
SELECT DISTINCT person_id, 'pain', CASE
    WHEN event = 'Order Delivered' THEN 'late_delivery'
    WHEN event = 'Contract Cancelled' THEN 'contract_cancelled'
    ELSE 'ticket:' || coalesce(json_extract_string(properties, '$.topic'), 'other') END, 1.0 FROM (
  SELECT person_id, event, properties FROM {v} WHERE event IN ('Order Delivered', 'Contract Cancelled', 'Ticket Created'))
  WHERE event <> 'Order Delivered' OR json_extract_string(properties, '$.delivered_late') = 'true'
UNION ALL
SELECT person_id, 'pain', 'checkout_abandoned', 1.0 FROM {v}
  WHERE session_id IS NOT NULL AND event IN ('Checkout Started', 'Order Completed')
  GROUP BY person_id HAVING count(DISTINCT session_id) FILTER (WHERE event = 'Checkout Started')
    > count(DISTINCT session_id) FILTER (WHERE event = 'Order Completed')
"""

# a configured property mix: share of the unit's events (of one name, or all) per value
_EXTRA_SQL = """
SELECT person_id, ?::VARCHAR AS dim, level, count(*)::DOUBLE AS n FROM (
  SELECT person_id, json_extract_string(properties, ?::VARCHAR) AS level FROM {v}
  WHERE ?::VARCHAR IS NULL OR event = ?::VARCHAR)
WHERE level IS NOT NULL GROUP BY ALL
"""

# buying centre: members per role (latest identify role of each member)
_ROLE_SQL = """
SELECT person_id, 'role' AS dim, role AS level, count(*)::DOUBLE AS n FROM (
  SELECT person_id, member_id, arg_max(json_extract_string(json_merge_patch(coalesce(properties, '{{}}'),
           coalesce(json_extract_string(context, '$.traits'), '{{}}')), '$.role'), timestamp) AS role
  FROM {v} WHERE type = 'identify' GROUP BY ALL)
WHERE role IS NOT NULL GROUP BY ALL
"""

# feedback table rows (voice): mean score / scale_max and mean sentiment per person, and
# the "negative feedback" pain point (NPS 0-6, 1-2 of 5, or a negative text)
_FEEDBACK_SQL = """
SELECT person_id, avg(score / nullif(scale_max, 0)) AS feedback_score, avg(sentiment_score) AS sentiment,
       bool_or(coalesce(sentiment = 'negative', false)
               OR (kind = 'nps' AND score <= 6) OR (kind IN ('csat', 'review') AND score / scale_max <= 0.4))
         AS negative
FROM {v} GROUP BY person_id
"""


@dataclass(frozen=True, slots=True)
class Extra:
    """A categorical mix from an event property, configured in ``[personas.extra.<name>]``:
    the share of the unit's ``event`` events (all events when None) per ``property`` value."""

    name: str
    property: str
    event: str | None = None


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    project: str
    features: tuple[str, ...] = DEFAULT_FEATURES
    max_levels: int = MAX_LEVELS
    level: str = "person"  # or "account": a B2B buying centre is one unit
    extra: tuple[Extra, ...] = ()

    def dims(self) -> dict[str, str]:
        """Categorical dimension -> feature group (an extra mix is its own group)."""
        return {**CATEGORICAL, **{e.name: e.name for e in self.extra}}


@dataclass(frozen=True, slots=True)
class Features:
    """One row per unit (person, or account at account level). ``matrix`` holds every
    feature (NaN = not applicable, e.g. no order yet); ``groups`` names each column's
    group, ``skewed`` which columns get log1p. ``journeys`` is each unit's journey as
    an int64 key (:func:`journey_key`: first landing channel, then the first occurrence of
    each milestone in order; decode with :meth:`journey`); ``members`` maps person_id ->
    account_id at account level."""

    persons: np.ndarray  # object array of unit ids, sorted
    columns: tuple[str, ...]
    groups: tuple[str, ...]
    skewed: np.ndarray  # bool per column
    matrix: np.ndarray  # float64, units x columns
    spec: FeatureSpec = field(repr=False, default=FeatureSpec(""))
    journeys: np.ndarray | None = field(repr=False, default=None)
    members: pa.Table | None = field(repr=False, default=None)
    journey_channels: tuple[str, ...] = ()

    def journey(self, key: int) -> list[str]:
        """A journey key as steps: ["channel:paid_social", "Product Viewed", ...]."""
        ch, code = int(key) % 64, int(key) // 64
        steps = [f"channel:{self.journey_channels[ch - 1]}"] if ch else []
        while code:
            code, digit = divmod(code, 16)
            steps.append(MILESTONES[digit - 1])
        return steps

    def select(self, groups: tuple[str, ...]) -> np.ndarray:
        return np.array([g in groups for g in self.groups], dtype=bool)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, self.columns.index(name)]


def spec_from_config(ws: Workspace, project: str, level: str = "person") -> FeatureSpec:
    """``[personas] features`` (and ``[personas.account] features`` for account level)."""
    if level not in LEVELS:
        raise ValidationError(f"--level {level!r}: use person or account", field="level")
    cfg = ws.config.get("personas", {})
    sub = cfg.get("account", {}) if level == "account" else {}
    extra = _extras(cfg.get("extra", {}))
    feats = tuple(sub.get("features", cfg.get("features", DEFAULT_FEATURES)))
    known = GROUPS + tuple(e.name for e in extra)
    unknown = [f for f in feats if f not in known]
    if unknown or not feats:
        raise ConfigError(f"[personas] features = {list(feats)}: unknown {unknown}; choose from {', '.join(known)}")
    return FeatureSpec(project, feats, int(cfg.get("max_levels", MAX_LEVELS)), level, extra)


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_PROPERTY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,62}$")


def _extras(cfg: object) -> tuple[Extra, ...]:
    """``[personas.extra.<name>] property = "...", event = "..."`` -> Extra mixes."""
    if not isinstance(cfg, dict):
        raise ConfigError("[personas.extra] must be tables: [personas.extra.segment] property = \"business_segment\"")
    out = []
    for name, item in sorted(cfg.items()):
        if not _NAME.match(name) or name in GROUPS or name in CATEGORICAL:
            raise ConfigError(f"[personas.extra.{name}]: use a new lower-case name (letters, digits, _)",
                              field="personas.extra")
        prop = item.get("property") if isinstance(item, dict) else None
        if not isinstance(prop, str) or not _PROPERTY.match(prop):
            raise ConfigError(f"[personas.extra.{name}] property = {prop!r}: give the event property to read, "
                              "e.g. property = \"business_segment\"", field="personas.extra")
        event = item.get("event")
        if event is not None and not isinstance(event, str):
            raise ConfigError(f"[personas.extra.{name}] event = {event!r}: give an event name or leave it out",
                              field="personas.extra")
        out.append(Extra(name, prop, event))
    return tuple(out)


def _ensure_resolved(ws: Workspace, project: str) -> None:
    from cxlens.identity import store
    from cxlens.identity.resolve import MAP, resolve

    if store.sql_source(ws, MAP, project) is None and ws.event_files(project):
        resolve(ws, project)


def pivot_shares(rows: np.ndarray, dims: pa.Array, levels: pa.Array, counts: np.ndarray, n_units: int,
                 max_levels: int, keep: dict[str, list[str]] | None = None,
                 dim_groups: dict[str, str] | None = None) -> tuple[list[str], list[str], np.ndarray]:
    """Long (row, dim, level, n) -> share columns ``dim=level`` per unit (row index).

    Levels per dimension are the ``max_levels`` most frequent ones, or ``keep`` (a stored
    model's levels, so ``assign`` sees the columns the model was fitted on). Vectorised:
    (dim, level) pairs are dictionary-encoded by Arrow, sums are bincounts."""
    ok = rows >= 0
    key = pc.binary_join_element_wise(dims, levels, "\x1f")
    enc = pc.dictionary_encode(key).combine_chunks() if isinstance(key, pa.ChunkedArray) else \
        pc.dictionary_encode(key)
    code = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    pairs = [str(k).split("\x1f", 1) for k in enc.dictionary.to_pylist()]
    totals = np.bincount(code[ok], weights=counts[ok], minlength=len(pairs))
    dim_of = np.array([d for d, _ in pairs], dtype=object)
    names: list[str] = []
    groups: list[str] = []
    blocks: list[np.ndarray] = []
    for dim, group in (dim_groups or CATEGORICAL).items():
        cand = [i for i, (d, _) in enumerate(pairs) if d == dim]
        if keep is not None:
            wanted = keep.get(dim, [])
            lookup = {pairs[i][1]: i for i in cand}
            chosen_levels = list(wanted)
            chosen = [lookup.get(level, -1) for level in wanted]
        else:
            order = sorted(cand, key=lambda i: (-totals[i], pairs[i][1]))[:max_levels]
            chosen, chosen_levels = order, [pairs[i][1] for i in order]
        if not chosen_levels:
            continue
        col_of = np.full(len(pairs) + 1, -1, np.int64)
        for c, i in enumerate(chosen):
            if i >= 0:
                col_of[i] = c
        ncol = len(chosen_levels)
        in_dim = ok & (dim_of[code] == dim) if len(code) else ok
        col = col_of[code]
        hit = in_dim & (col >= 0)
        block: np.ndarray = np.bincount(rows[hit] * ncol + col[hit], weights=counts[hit],
                            minlength=n_units * ncol).reshape(n_units, ncol)
        if dim in INDICATORS:
            block = np.minimum(block, 1.0)  # one value per key: a 0/1 indicator
        else:  # shares of *all* the unit's rows of this dimension, folded levels included
            denom = np.bincount(rows[in_dim], weights=counts[in_dim], minlength=n_units)
            block = block / np.maximum(denom, 1e-12)[:, None]
        names += [f"{dim}={level}" for level in chosen_levels]
        groups += [group] * ncol
        blocks.append(block)
    return names, groups, np.hstack(blocks) if blocks else np.zeros((n_units, 0))


def _account_view(con: duckdb.DuckDBPyConnection, view: str) -> tuple[str, pa.Table]:
    """A view of ``view`` with person_id = the person's account (the account it acts for
    most often) and member_id = the person; persons without an account are left out."""
    name = f"_pa_{uuid.uuid4().hex[:8]}"
    con.execute(f"""
      CREATE OR REPLACE TEMP TABLE {name}_m AS
      SELECT person_id, first(account_id ORDER BY n DESC, account_id) AS account_id FROM (
        SELECT person_id, account_id, count(*) AS n FROM {view} WHERE account_id IS NOT NULL GROUP BY ALL)
      GROUP BY person_id""").fetchall()
    con.execute(f"""
      CREATE OR REPLACE TEMP VIEW {name} AS
      SELECT e.* EXCLUDE (person_id), m.account_id AS person_id, e.person_id AS member_id
      FROM {view} e JOIN {name}_m m ON e.person_id = m.person_id""").fetchall()
    members = con.sql(f"SELECT person_id, account_id FROM {name}_m ORDER BY person_id").to_arrow_table()
    return name, members


def compute_from(con: duckdb.DuckDBPyConnection, view: str, spec: FeatureSpec,
                 keep: dict[str, list[str]] | None = None, feedback: str | None = None) -> Features:
    """Features of every unit in ``view`` (events with ``person_id``), by DuckDB.

    ``view`` is a view or table name made by the caller (never user input); ``feedback``
    optionally names a view of feedback rows with person_id, score, scale_max, kind and
    sentiment / sentiment_score (voice). At account level persons are grouped by account."""
    members = None
    drop: list[str] = []
    if spec.level == "account":
        view, members = _account_view(con, view)
        drop = [f"DROP VIEW IF EXISTS {view}", f"DROP TABLE IF EXISTS {view}_m"]
    try:
        milestones = ",\n  ".join(f"epoch(min(timestamp) FILTER (WHERE event = '{m}')) AS m{i}"
                                   for i, m in enumerate(MILESTONES))
        num = con.sql(_NUMERIC_SQL.format(v=view, milestones=milestones, members="count(DISTINCT member_id)"
                                          if members is not None else "1")).to_arrow_table()
        traits = list(ACCOUNT_TRAITS if members is not None else TRAITS)
        long = con.sql(_LONG_SQL.format(v=view), params=[traits, traits]).to_arrow_table()
        if members is not None:
            long = pa.concat_tables([long, con.sql(_ROLE_SQL.format(v=view)).to_arrow_table().cast(long.schema)])
        for e in spec.extra:  # configured property mixes: name, path and event are parameters
            long = pa.concat_tables([long, con.sql(_EXTRA_SQL.format(v=view), params=[
                e.name, f'$."{e.property}"', e.event, e.event]).to_arrow_table().cast(long.schema)])
        fb = con.sql(_FEEDBACK_SQL.format(v=feedback)).to_arrow_table() if feedback else None
        if fb is not None and members is not None:  # feedback of the members, per account
            fb = con.sql(f"SELECT m.account_id AS person_id, avg(f.feedback_score) AS feedback_score, "
                         f"avg(f.sentiment) AS sentiment, bool_or(f.negative) AS negative FROM "
                         f"({_FEEDBACK_SQL.format(v=feedback)}) f JOIN {view}_m m USING (person_id) GROUP BY 1"
                         ).to_arrow_table()
    finally:
        for sql in drop:
            con.execute(sql).fetchall()
    persons_arr = num.column("person_id").combine_chunks()
    persons = np.array(persons_arr.to_pylist(), dtype=object)
    n = len(persons)

    def rows_of(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
        idx = pc.index_in(ids, value_set=persons_arr)
        return np.asarray(pc.fill_null(idx, -1).to_numpy(zero_copy_only=False), dtype=np.int64)

    numeric = list(NUMERIC)
    mat = _numeric(num, numeric)
    if fb is not None and fb.num_rows:
        r = rows_of(fb.column("person_id"))
        for c in ("feedback_score", "sentiment"):
            v = pc.cast(fb.column(c), pa.float64()).to_numpy(zero_copy_only=False)
            sel = (r >= 0) & ~np.isnan(v)
            mat[r[sel], numeric.index(c)] = v[sel]
        neg = pc.fill_null(fb.column("negative"), False).to_numpy(zero_copy_only=False).astype(bool)
        neg_ids = pc.filter(fb.column("person_id"), pa.array(neg))
        long = pa.concat_tables([long, pa.table({
            "person_id": neg_ids.cast(pa.string()), "dim": pa.array(["pain"] * len(neg_ids), pa.string()),
            "level": pa.array(["negative_feedback"] * len(neg_ids), pa.string()),
            "n": pa.array(np.ones(len(neg_ids)))}).cast(long.schema)])
    names, groups, shares = pivot_shares(rows_of(long.column("person_id")), long.column("dim"),
                                         long.column("level"), long.column("n").to_numpy(), n,
                                         spec.max_levels, keep, spec.dims())
    channel = pc.dictionary_encode(num.column("first_channel").combine_chunks())
    ch = pc.fill_null(channel.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
    jour = journey_key(np.column_stack([_col(num, f"m{i}") for i in range(len(MILESTONES))])
                       if n else np.zeros((0, len(MILESTONES))), np.where(ch < 64, ch, 0))
    return Features(
        persons=persons,
        columns=tuple(numeric + names),
        groups=tuple([NUMERIC[c][0] for c in numeric] + groups),
        skewed=np.array([NUMERIC[c][1] for c in numeric] + [False] * len(names)),
        matrix=np.hstack([mat, shares]),
        spec=spec,
        journeys=jour,
        members=members,
        journey_channels=tuple(str(c) for c in channel.dictionary.to_pylist()),
    )


def _col(t: pa.Table, name: str) -> np.ndarray:
    return np.asarray(pc.cast(t.column(name), pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _numeric(num: pa.Table, numeric: list[str]) -> np.ndarray:
    """The NUMERIC columns from the per-unit aggregates (ratios and recency in NumPy)."""
    raw = {c: _col(num, c) for c in ("sessions", "session_events", "views", "last_seen", "orders", "shop_orders",
                                     "revenue", "price", "stage_reached", "days_to_convert", "support_contacts",
                                     "feedback_score", "members")}
    n = len(raw["sessions"])
    sessions = np.maximum(raw["sessions"], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = {
            "sessions": raw["sessions"],
            "events_per_session": raw["session_events"] / sessions,
            "views_per_session": raw["views"] / sessions,
            "recency_days": (np.nanmax(raw["last_seen"]) - raw["last_seen"]) / 86400.0 if n else raw["last_seen"],
            "orders": raw["orders"],
            "revenue": raw["revenue"],
            "basket": np.where(raw["orders"] > 0, raw["revenue"] / raw["orders"], np.nan),
            "price": raw["price"],
            # a second order (or a renewal) is the renewal stage
            "stage_reached": np.where(raw["shop_orders"] > 1, 4.0, raw["stage_reached"]),
            "days_to_convert": raw["days_to_convert"],
            "support_contacts": raw["support_contacts"],
            "feedback_score": raw["feedback_score"],
            "sentiment": np.full(n, np.nan),
            "members": raw["members"],
        }
    return np.column_stack([cols[c] for c in numeric]) if n else np.zeros((0, len(numeric)))


def journey_key(first: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """Each row's journey as one int64: the milestones a unit reached, ordered by their
    first time (NaN = never), as base-16 digits (milestone index + 1), times 64, plus the
    first landing channel (index + 1, 0 = none). Vectorised: argsort per row."""
    n, m = first.shape
    order = np.argsort(np.where(np.isnan(first), np.inf, first), axis=1, kind="stable")
    reached = ~np.isnan(np.take_along_axis(first, order, axis=1))
    digits = np.where(reached, order + 1, 0).astype(np.int64)
    code = (digits * (16 ** np.arange(m, dtype=np.int64))[None, :]).sum(1) if n else np.zeros(0, np.int64)
    return np.asarray(code * 64 + channel, dtype=np.int64)


def _feedback_view(ws: Workspace, project: str) -> str | None:
    """A view of the project's feedback rows with person_id and sentiment, or None."""
    from cxlens.identity import with_person

    fdir = ws.root / "tables" / "feedback" / f"project={project}"
    files = sorted(str(p) for p in fdir.glob("*.parquet"))
    if not files:
        return None
    adir = ws.root / "tables" / "feedback_analysis" / f"project={project}"
    afiles = sorted(str(p) for p in adir.glob("*.parquet"))
    rel = ws.con.read_parquet(files, union_by_name=True)
    if afiles:
        an = ws.con.read_parquet(afiles, union_by_name=True).select("feedback_id, sentiment, sentiment_score")
        rel = rel.join(an, "feedback_id", how="left")
    else:
        rel = rel.select("*, NULL::VARCHAR AS sentiment, NULL::DOUBLE AS sentiment_score")
    name = f"_pfb_{uuid.uuid4().hex[:8]}"
    with_person(ws, rel, project).create_view(name, replace=True)
    return name


def compute(ws: Workspace, spec: FeatureSpec, keep: dict[str, list[str]] | None = None) -> Features:
    """Features of every person (or account) with events in ``spec.project``, resolving
    identity first when it never ran, so anonymous devices join their person. Feedback
    rows (``tables/feedback``) add score, sentiment and negative feedback when present."""
    from cxlens.identity import with_person

    _ensure_resolved(ws, spec.project)
    con = ws.con
    view = f"_pf_{uuid.uuid4().hex[:8]}"
    with_person(ws, ws.events(spec.project), spec.project).create_view(view, replace=True)
    fb = _feedback_view(ws, spec.project)
    try:
        return compute_from(con, view, spec, keep, fb)
    finally:
        con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
        if fb:
            con.execute(f"DROP VIEW IF EXISTS {fb}").fetchall()


def levels_of(f: Features) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {d: [] for d in f.spec.dims()}
    for c in f.columns:
        if "=" in c:
            dim, level = c.split("=", 1)
            out[dim].append(level)
    return out
