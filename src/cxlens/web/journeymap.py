"""The journey map: B2C stages as columns, channels (touchpoints) as rows.

A person enters a stage with the first event that belongs to it; the cell is the stage
and the channel of that event. Web events after the landing page carry no channel of
their own, so an event takes the last channel its person was seen with (the session's
channel, as GA4 reports it); a person's very first page view without one is ``direct``.
Per cell: persons, the share of them who later enter the next stage, the median time to
it, and the drop-off (1 - that share) that colours the cell. When ``tables/feedback``
exists, each cell also gets the mean sentiment (-1..+1) and number of the feedback given
in its stage by the persons who entered the stage through its row (see
:func:`cell_sentiment`).

``STAGE_EVENTS`` is the one place that maps event names to stages, until the journeys
module's own stage definitions land.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import duckdb

from cxlens.errors import SpecError
from cxlens.journeys.touchpoints import JourneyDefinition
from cxlens.web.queries import Period

STAGES: Final[tuple[str, ...]] = (
    "awareness", "consideration", "purchase", "delivery", "service", "loyalty")

#: event name -> stage; page views without a name are awareness; ``loyalty`` is a second
#: order (set in SQL) or any newsletter interaction after a first order
STAGE_EVENTS: Final[dict[str, str]] = {
    "Product Viewed": "consideration",
    "Product Added": "consideration",
    "Product List Viewed": "consideration",
    "Products Searched": "consideration",
    "Whitepaper Downloaded": "consideration",
    "Demo Requested": "consideration",
    "Checkout Started": "purchase",
    "Checkout Step Viewed": "purchase",
    "Order Completed": "purchase",
    "Quote Sent": "purchase",
    "Contract Signed": "purchase",
    "Order Shipped": "delivery",
    "Order Delivered": "delivery",
    "Ticket Created": "service",
    "Ticket Resolved": "service",
    "Survey Shown": "service",
    "Survey Answered": "service",
    "Contract Renewed": "loyalty",
}

_STAGED_SQL = """
CREATE OR REPLACE TEMP TABLE staged AS
SELECT * FROM (
    SELECT person, timestamp, event, type,
           coalesce(last_value(channel IGNORE NULLS) OVER w, 'direct') AS touch,
           {touchpoint} AS touchpoint,
           {stage} AS stage
    FROM pev
    WHERE timestamp >= ? AND timestamp < ?
    WINDOW w AS (PARTITION BY person ORDER BY timestamp
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
) WHERE stage IS NOT NULL
"""

# a person's second order enters the last stage (loyalty / Wiederkauf) when no touchpoint
# does: one window over the orders only (few rows) instead of numbering every event
_LOYALTY_SQL = """
INSERT INTO staged
SELECT person, timestamp, event, type, touch, touchpoint, ? FROM (
    SELECT *, row_number() OVER (PARTITION BY person ORDER BY timestamp) AS k
    FROM staged WHERE event = 'Order Completed'
) WHERE k = 2
"""

_CELLS_SQL = """
WITH firsts AS (
    SELECT person, stage, min(timestamp) AS at, arg_min({row}, timestamp) AS row_value
    FROM staged GROUP BY person, stage
),
ordered AS (
    SELECT f.*, s.idx FROM firsts f JOIN (SELECT * FROM (VALUES {order}) o(stage, idx)) s
    USING (stage)
),
joined AS (
    SELECT a.stage, a.idx, a.row_value, a.person,
           b.at IS NOT NULL AND b.at >= a.at AS next_ok,
           CASE WHEN b.at >= a.at THEN epoch(b.at) - epoch(a.at) END AS secs
    FROM ordered a LEFT JOIN ordered b ON b.person = a.person AND b.idx = a.idx + 1
)
SELECT stage, idx, row_value, count(*) AS persons,
       count(*) FILTER (WHERE next_ok) AS advanced,
       median(secs) AS median_secs
FROM joined GROUP BY GROUPING SETS ((stage, idx, row_value), (stage, idx))
ORDER BY idx, persons DESC
"""

#: what the map's rows are: the channel of the entering event, or its touchpoint
ROWS = {"channel": "touch", "touchpoint": "touchpoint"}


@dataclass(frozen=True, slots=True)
class Stages:
    """Event -> stage (and touchpoint) as SQL: the built-in mapping, or a journey
    definition of ``cxlens.journeys.touchpoints`` (``<ws>/journeys/<name>.toml``)."""

    names: tuple[str, ...]
    stage_sql: str
    stage_params: tuple[object, ...]
    touchpoint_sql: str
    touchpoint_params: tuple[object, ...]
    loyalty_stage: str | None  # entered by a second order when no touchpoint maps to it
    from_definition: bool = False


def configured_stages(root: Path, config: Mapping[str, Any]) -> Stages:
    """``[dashboard] journey = "b2c"`` in cxlens.toml: that journey definition
    (``<ws>/journeys/b2c.toml`` or the shipped example); otherwise the built-in mapping."""
    name = (config.get("dashboard", {}) or {}).get("journey")
    if not name:
        return builtin_stages()
    from cxlens.journeys.touchpoints import workspace_definition

    return definition_stages(workspace_definition(root, str(name)))


def builtin_stages() -> Stages:
    params: list[object] = []
    whens = []
    for event, stage in STAGE_EVENTS.items():
        whens.append("WHEN ? THEN ?")
        params += [event, stage]
    # a survey shown or answered belongs to the stage its survey asks about (cx-survey.js
    # sends it), not to service: a checkout survey must not move a buyer past delivery
    survey = ("CASE WHEN event IN (?, ?) AND list_contains(?, json_extract_string(properties, '$.stage')) "
              "THEN json_extract_string(properties, '$.stage') ELSE ")
    stage_sql = (f"{survey}CASE event {' '.join(whens)} ELSE CASE WHEN type IN ('page', 'screen') "
                 "OR event LIKE 'Newsletter %' THEN 'awareness' END END END")
    params = ["Survey Shown", "Survey Answered", list(STAGES), *params]
    return Stages(STAGES, stage_sql, tuple(params), "coalesce(event, type)", (), "loyalty")


def definition_stages(definition: JourneyDefinition) -> Stages:
    from cxlens.engines.expr import to_sql

    sp: list[object] = []
    stage_sql = to_sql(definition.stage_expr(), sp)
    tp: list[object] = []
    tp_sql = to_sql(definition.touchpoint_expr(), tp)
    mapped = {t.stage for t in definition.touchpoints}
    last = definition.stages[-1]
    return Stages(definition.stages, stage_sql, tuple(sp), tp_sql, tuple(tp),
                  None if last in mapped else last, True)


@dataclass(frozen=True, slots=True)
class Cell:
    stage: str
    channel: str | None  # None: all channels
    persons: int
    advanced: int
    median_seconds: float | None
    is_last: bool
    #: mean sentiment of the cell's feedback, -1 (negative) .. +1 (positive); None: no feedback
    sentiment: float | None = None
    feedback: int = 0  # how many feedback rows the mean is over

    @property
    def conversion(self) -> float | None:
        if self.is_last or not self.persons:
            return None
        return self.advanced / self.persons

    @property
    def dropoff(self) -> float | None:
        c = self.conversion
        return None if c is None else 1.0 - c


@dataclass(frozen=True, slots=True)
class JourneyMap:
    period: Period
    stages: tuple[str, ...]
    channels: tuple[str, ...]  # the row values (channels or touchpoints), biggest first
    cells: dict[tuple[str, str | None], Cell]
    rows: str = "channel"
    from_definition: bool = False

    def cell(self, stage: str, channel: str | None) -> Cell | None:
        return self.cells.get((stage, channel))

    def biggest_dropoffs(self, n: int = 5, min_persons: int = 20) -> list[Cell]:
        """Cells that lose the most persons before the next stage."""
        cands = [c for c in self.cells.values()
                 if c.channel is not None and c.conversion is not None
                 and c.persons >= min_persons]
        return sorted(cands, key=lambda c: -(c.persons - c.advanced))[:n]


def _values(pairs: list[tuple[str, object]]) -> tuple[str, list[object]]:
    """A ``VALUES`` list of ``(?, ?)`` placeholders and its parameters."""
    params: list[object] = []
    for a, b in pairs:
        params += [a, b]
    return ", ".join(["(?, ?)"] * len(pairs)), params


def stage_table(con: duckdb.DuckDBPyConnection, period: Period, stages: Stages) -> None:
    """Materialise ``staged`` (person, timestamp, event, type, touch, touchpoint, stage)."""
    sql = _STAGED_SQL.format(touchpoint=stages.touchpoint_sql, stage=stages.stage_sql)
    con.execute(sql, [*stages.touchpoint_params, *stages.stage_params, period.since,
                      period.until]).fetchall()
    if stages.loyalty_stage is not None:
        con.execute(_LOYALTY_SQL, [stages.loyalty_stage]).fetchall()


def journey_map(con: duckdb.DuckDBPyConnection, period: Period,
                feedback: list[str] | None = None, stages: Stages | None = None,
                rows: str = "channel", segmented: bool = False) -> JourneyMap:
    """The map over ``con``'s views of :func:`cxlens.web.queries.connect`; ``segmented``
    when ``pev`` holds only a persona's members (``_segment``): feedback then counts only
    for them, never for a stranger's ids."""
    stages = stages or builtin_stages()
    if rows not in ROWS:
        raise SpecError(f"rows must be one of {list(ROWS)}, got {rows!r}", field="rows")
    stage_table(con, period, stages)
    placeholders, params = _values([(s, i) for i, s in enumerate(stages.names)])
    sql = _CELLS_SQL.format(order=placeholders, row=ROWS[rows])
    cells: dict[tuple[str, str | None], Cell] = {}
    volume: dict[str, int] = {}
    for stage, idx, value, persons, advanced, med in con.execute(sql, params).fetchall():
        last = int(idx) == len(stages.names) - 1
        cells[(stage, value)] = Cell(stage, value, int(persons), int(advanced),
                                     float(med) if med is not None else None, last)
        if value is not None:
            volume[value] = volume.get(value, 0) + int(persons)
    if feedback:
        _add_sentiment(con, period, feedback, cells, stages, rows, segmented)
    values = tuple(sorted(volume, key=lambda c: (-volume[c], c)))
    return JourneyMap(period, stages.names, values, cells, rows, stages.from_definition)


#: texts scored per map at most (the newest first); stored survey sentiment needs none
MAX_SCORED_TEXTS: Final = 20_000

_FEEDBACK_SQL = """
WITH fb AS (
    SELECT timestamp, user_id, anonymous_id, text, language, kind, score, scale_max,
           TRY_CAST(json_extract_string(properties, '$.sentiment_score') AS DOUBLE) AS stored,
           coalesce(json_extract_string(properties, '$.stage'),
                    CASE WHEN touchpoint ILIKE '%deliver%' OR touchpoint ILIKE '%liefer%' THEN 'delivery'
                         WHEN touchpoint ILIKE '%checkout%' THEN 'purchase' ELSE 'service' END) AS raw_stage
    FROM read_parquet(?, union_by_name = true)
    WHERE timestamp >= ? AND timestamp < ?
),
by_user AS (SELECT user_id AS id, any_value(person) AS person FROM pev_all
            WHERE user_id IS NOT NULL GROUP BY 1),
by_anon AS (SELECT anonymous_id AS id, any_value(person) AS person FROM pev_all
            WHERE anonymous_id IS NOT NULL GROUP BY 1),
alias AS (SELECT * FROM (VALUES {alias}) a(raw, stage)),
placed AS (
    SELECT fb.*, coalesce(alias.stage, fb.raw_stage) AS stage,
           coalesce(u.person, a.person, fb.user_id, fb.anonymous_id) AS person
    FROM fb LEFT JOIN by_user u ON u.id = fb.user_id LEFT JOIN by_anon a ON a.id = fb.anonymous_id
    LEFT JOIN alias ON alias.raw = fb.raw_stage
),
entry AS (SELECT person, stage, arg_min({row}, timestamp) AS value FROM staged GROUP BY person, stage)
SELECT p.stage, e.value, p.stored, p.text, p.language, p.kind, p.score, p.scale_max
FROM placed p LEFT JOIN entry e ON e.person = p.person AND e.stage = p.stage
WHERE list_contains(?, p.stage) AND (p.stored IS NOT NULL OR p.text IS NOT NULL OR p.score IS NOT NULL)
  AND (p.person IS NULL OR p.person NOT IN (SELECT person_id FROM _denied)){segment}
ORDER BY p.timestamp DESC
"""


def rating_sentiment(kind: str | None, score: float, scale_max: float | None) -> float:
    """A rating without a text on the sentiment scale: its scale's bottom -1, top +1
    (NPS runs 0-10, a good/bad rating 0-1, other scales from 1)."""
    top = scale_max or 5.0
    low = 0.0 if kind == "nps" or top <= 1 else 1.0
    if top <= low:
        return 0.0
    return max(-1.0, min(1.0, 2 * (score - low) / (top - low) - 1))


def cell_sentiment(rows: list[tuple[Any, ...]]) -> dict[tuple[str, str | None], tuple[float, int]]:
    """(mean sentiment, n) per (stage, row value) and per (stage, None) from rows of
    (stage, entry value, stored sentiment score, text, language, kind, score, scale_max).

    A feedback's sentiment is its text's (stored with survey answers, else computed
    offline here); a rating without text counts by :func:`rating_sentiment`. Feedback
    goes to the cell through which its person entered the stage; without such an entry
    (no resolvable person, or the person did not enter the stage in the period) it counts
    only in the stage's total."""
    values: list[float | None] = []
    todo: list[int] = []
    for i, (_, _, stored, text, _, kind, score, scale_max) in enumerate(rows):
        if stored is not None:
            values.append(float(stored))
        elif text and len(todo) < MAX_SCORED_TEXTS:
            values.append(None)
            todo.append(i)
        elif score is not None and score == score:
            values.append(rating_sentiment(kind, float(score), scale_max))
        else:
            values.append(None)
    if todo:
        from cxlens.voice.sentiment import sentiment_batch

        got = sentiment_batch([rows[i][3] for i in todo],
                              [rows[i][4] if rows[i][4] in ("de", "en") else None for i in todo])
        for i, res in zip(todo, got, strict=True):
            values[i] = res.score
    acc: dict[tuple[str, str | None], list[float]] = {}
    for row, v in zip(rows, values, strict=True):
        if v is None:
            continue
        stage, value = str(row[0]), row[1]
        for key in {(stage, None), (stage, None if value is None else str(value))}:
            a = acc.setdefault(key, [0.0, 0.0])
            a[0] += v
            a[1] += 1
    return {k: (a[0] / a[1], int(a[1])) for k, a in acc.items()}


def _add_sentiment(con: duckdb.DuckDBPyConnection, period: Period, files: list[str],
                   cells: dict[tuple[str, str | None], Cell], stages: Stages, rows: str,
                   segmented: bool) -> None:
    """Each cell's mean sentiment and feedback count (:func:`cell_sentiment`). Survey
    answers carry their stage (``properties.stage``); other feedback is placed by its
    touchpoint: delivery, checkout, else service (answers come after a delivery or a ticket)."""
    names = stages.names
    # built-in names of surveys about checkout, delivery, service -> a definition's stages
    alias: list[tuple[str, object]] = [
        (a, b) for a, b in (("purchase", names[min(2, len(names) - 1)]),
                            ("delivery", names[min(3, len(names) - 1)]),
                            ("service", names[min(3, len(names) - 1)]))
        if stages.from_definition and a not in names]
    placeholders, params = _values(alias or [("", "")])
    # feedback of persons who denied analytics consent never counts (they are in pev_all,
    # not in pev); with a persona filter neither does feedback of non-members or strangers
    segment = " AND p.person IN (SELECT person_id FROM _segment)" if segmented else ""
    sql = _FEEDBACK_SQL.format(alias=placeholders, row=ROWS[rows], segment=segment)  # fixed texts
    got = con.execute(sql, [files, period.since, period.until, *params, list(names)]).fetchall()
    for key, (mean, n) in cell_sentiment(got).items():
        c = cells.get(key)
        if c is not None:
            cells[key] = replace(c, sentiment=mean, feedback=n)


@dataclass(frozen=True, slots=True)
class CellDetail:
    stage: str
    channel: str | None
    persons: tuple[tuple[str, int, datetime, datetime], ...]  # person, events, first, last
    events: tuple[tuple[datetime, str, str, str], ...]  # time, person, event, channel


def cell_detail(con: duckdb.DuckDBPyConnection, period: Period, stage: str,
                value: str | None, stages: Stages | None = None, rows: str = "channel",
                limit: int = 100) -> CellDetail:
    """The persons who entered ``stage`` through ``value`` (a channel or touchpoint) and
    their events in that stage."""
    stages = stages or builtin_stages()
    if rows not in ROWS:
        raise SpecError(f"rows must be one of {list(ROWS)}, got {rows!r}", field="rows")
    if stage not in stages.names:
        raise SpecError(f"stage must be one of {list(stages.names)}", field="stage")
    stage_table(con, period, stages)
    col = ROWS[rows]  # from the fixed mapping above, never from the request
    persons = con.execute(f"""
        WITH entry AS (
            SELECT person, arg_min({col}, timestamp) AS value FROM staged
            WHERE stage = $stage GROUP BY person
        )
        SELECT s.person, count(*), min(s.timestamp), max(s.timestamp)
        FROM staged s JOIN entry e USING (person)
        WHERE s.stage = $stage AND ($value IS NULL OR e.value = $value)
        GROUP BY s.person ORDER BY count(*) DESC, s.person LIMIT $limit
    """, {"stage": stage, "value": value, "limit": limit}).fetchall()
    names = [p[0] for p in persons]
    events = con.execute("""
        SELECT timestamp, person, coalesce(event, type), touch FROM staged
        WHERE stage = $stage AND list_contains($names, person)
        ORDER BY timestamp LIMIT 500
    """, {"stage": stage, "names": names}).fetchall() if names else []
    return CellDetail(stage, value, tuple((str(a), int(b), c, d) for a, b, c, d in persons),
                      tuple((a, str(b), str(c), str(d)) for a, b, c, d in events))
