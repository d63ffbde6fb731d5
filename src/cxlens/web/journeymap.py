"""The journey map: B2C stages as columns, channels (touchpoints) as rows.

A person enters a stage with the first event that belongs to it; the cell is the stage
and the channel of that event. Web events after the landing page carry no channel of
their own, so an event takes the last channel its person was seen with (the session's
channel, as GA4 reports it); a person's very first page view without one is ``direct``.
Per cell: persons, the share of them who later enter the next stage, the median time to
it, and the drop-off (1 - that share) that colours the cell. Sentiment (mean feedback
score per stage and channel) is added when ``tables/feedback`` exists.

``STAGE_EVENTS`` is the one place that maps event names to stages, until the journeys
module's own stage definitions land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import duckdb

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
WITH names(event, stage) AS (SELECT * FROM (VALUES {values}) v(event, stage)),
tagged AS (
    SELECT p.person, p.timestamp, p.event, p.type,
           coalesce(last_value(p.channel IGNORE NULLS) OVER w, 'direct') AS touch,
           CASE WHEN n.stage IS NOT NULL THEN n.stage
                WHEN p.type IN ('page', 'screen') OR p.event LIKE 'Newsletter %'
                     THEN 'awareness' END AS stage
    FROM pev p LEFT JOIN names n ON n.event = p.event
    WHERE p.timestamp >= $since AND p.timestamp < $until
    WINDOW w AS (PARTITION BY p.person ORDER BY p.timestamp
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT person, stage, timestamp, event, type, touch FROM tagged WHERE stage IS NOT NULL
"""

# a person's second order makes them loyal: one more window over the orders only (few
# rows) instead of numbering every event
_LOYALTY_SQL = """
INSERT INTO staged
SELECT person, 'loyalty', timestamp, event, type, touch FROM (
    SELECT *, row_number() OVER (PARTITION BY person ORDER BY timestamp) AS k
    FROM staged WHERE event = 'Order Completed'
) WHERE k = 2
"""

_CELLS_SQL = """
WITH firsts AS (
    SELECT person, stage, min(timestamp) AS at, arg_min(touch, timestamp) AS touch
    FROM staged GROUP BY person, stage
),
ordered AS (
    SELECT f.*, s.idx FROM firsts f JOIN (SELECT * FROM (VALUES {order}) o(stage, idx)) s
    USING (stage)
),
joined AS (
    SELECT a.stage, a.idx, a.touch, a.person,
           b.at IS NOT NULL AND b.at >= a.at AS next_ok,
           CASE WHEN b.at >= a.at THEN epoch(b.at) - epoch(a.at) END AS secs
    FROM ordered a LEFT JOIN ordered b ON b.person = a.person AND b.idx = a.idx + 1
)
SELECT stage, idx, touch, count(*) AS persons,
       count(*) FILTER (WHERE next_ok) AS advanced,
       median(secs) AS median_secs
FROM joined GROUP BY GROUPING SETS ((stage, idx, touch), (stage, idx))
ORDER BY idx, persons DESC
"""


@dataclass(frozen=True, slots=True)
class Cell:
    stage: str
    channel: str | None  # None: all channels
    persons: int
    advanced: int
    median_seconds: float | None
    is_last: bool
    sentiment: float | None = None  # mean score as a share of the scale (0..1)

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
    channels: tuple[str, ...]
    cells: dict[tuple[str, str | None], Cell]

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


def stage_table(con: duckdb.DuckDBPyConnection, period: Period) -> None:
    """Materialise ``staged`` (person, stage, timestamp, event, touch) for the period."""
    placeholders, params = _values(list(STAGE_EVENTS.items()))
    # the VALUES placeholders are positional, so the period goes in positionally too
    sql = _STAGED_SQL.format(values=placeholders).replace("$since", "?").replace("$until", "?")
    con.execute(sql, [*params, period.since, period.until]).fetchall()
    con.execute(_LOYALTY_SQL).fetchall()


def journey_map(con: duckdb.DuckDBPyConnection, period: Period,
                feedback: list[str] | None = None) -> JourneyMap:
    stage_table(con, period)
    placeholders, params = _values([(s, i) for i, s in enumerate(STAGES)])
    rows = con.execute(_CELLS_SQL.format(order=placeholders), params).fetchall()
    cells: dict[tuple[str, str | None], Cell] = {}
    volume: dict[str, int] = {}
    for stage, idx, touch, persons, advanced, med in rows:
        last = int(idx) == len(STAGES) - 1
        cells[(stage, touch)] = Cell(stage, touch, int(persons), int(advanced),
                                     float(med) if med is not None else None, last)
        if touch is not None:
            volume[touch] = volume.get(touch, 0) + int(persons)
    if feedback:
        _add_sentiment(con, period, feedback, cells)
    channels = tuple(sorted(volume, key=lambda c: (-volume[c], c)))
    return JourneyMap(period, STAGES, channels, cells)


def _add_sentiment(con: duckdb.DuckDBPyConnection, period: Period, files: list[str],
                   cells: dict[tuple[str, str | None], Cell]) -> None:
    """Mean score (as a share of its scale) of feedback given in the stage: the survey
    answers come after a delivery or a ticket, so they belong to the touchpoint asked."""
    rows = con.execute("""
        SELECT CASE WHEN touchpoint ILIKE '%deliver%' OR touchpoint ILIKE '%liefer%'
                    THEN 'delivery' WHEN touchpoint ILIKE '%checkout%' THEN 'purchase'
                    ELSE 'service' END AS stage,
               avg(score / nullif(scale_max, 0))
        FROM read_parquet(?, union_by_name = true)
        WHERE score IS NOT NULL AND timestamp >= ? AND timestamp < ?
        GROUP BY 1
    """, [files, period.since, period.until]).fetchall()
    by_stage = {str(s): float(v) for s, v in rows if v is not None}
    for key, c in list(cells.items()):
        if c.stage in by_stage:
            cells[key] = Cell(c.stage, c.channel, c.persons, c.advanced, c.median_seconds,
                              c.is_last, by_stage[c.stage])


@dataclass(frozen=True, slots=True)
class CellDetail:
    stage: str
    channel: str | None
    persons: tuple[tuple[str, int, datetime, datetime], ...]  # person, events, first, last
    events: tuple[tuple[datetime, str, str, str], ...]  # time, person, event, channel


def cell_detail(con: duckdb.DuckDBPyConnection, period: Period, stage: str,
                channel: str | None, limit: int = 100) -> CellDetail:
    """The persons who entered ``stage`` through ``channel`` and their events in it."""
    stage_table(con, period)
    persons = con.execute("""
        WITH entry AS (
            SELECT person, arg_min(touch, timestamp) AS touch FROM staged
            WHERE stage = $stage GROUP BY person
        )
        SELECT s.person, count(*), min(s.timestamp), max(s.timestamp)
        FROM staged s JOIN entry e USING (person)
        WHERE s.stage = $stage AND ($channel IS NULL OR e.touch = $channel)
        GROUP BY s.person ORDER BY count(*) DESC, s.person LIMIT $limit
    """, {"stage": stage, "channel": channel, "limit": limit}).fetchall()
    names = [p[0] for p in persons]
    events = con.execute("""
        SELECT timestamp, person, coalesce(event, type), touch FROM staged
        WHERE stage = $stage AND list_contains($names, person)
        ORDER BY timestamp LIMIT 500
    """, {"stage": stage, "names": names}).fetchall() if names else []
    return CellDetail(stage, channel, tuple((str(a), int(b), c, d) for a, b, c, d in persons),
                      tuple((a, str(b), str(c), str(d)) for a, b, c, d in events))
