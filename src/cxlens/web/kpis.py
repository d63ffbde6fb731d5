"""The overview's KPIs for a period and the one before it, and targets from cxlens.toml.

Definitions (documented in docs/dashboard.md):
- visitors: persons with a page or screen view in the period;
- conversion rate: persons with an ``Order Completed`` / visitors;
- revenue, orders, average order value: from ``Order Completed`` events;
- repeat-purchase rate: buyers of the period who had ordered before (earlier in the
  period or any time before it) / buyers of the period;
- churn: buyers of the previous period with no event at all in this period;
- NPS (promoters 9-10 minus detractors 0-6, in points) and CSAT (share of answers with
  4 or 5 of 5) from ``<ws>/tables/feedback`` once it exists.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

import duckdb

from cxlens.errors import ConfigError
from cxlens.web.queries import Period

Unit = Literal["count", "rate", "money", "points"]

#: every KPI, its unit, and whether more is better (for colouring changes)
KPIS: Final[dict[str, tuple[Unit, bool]]] = {
    "visitors": ("count", True),
    "conversion_rate": ("rate", True),
    "revenue": ("money", True),
    "orders": ("count", True),
    "average_order_value": ("money", True),
    "repeat_purchase_rate": ("rate", True),
    "churn_rate": ("rate", False),
    "nps": ("points", True),
    "csat": ("rate", True),
}

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_TARGET = re.compile(r"^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True, slots=True)
class Target:
    kpi: str
    op: str
    value: float

    def met(self, actual: float | None) -> bool | None:
        return None if actual is None else _OPS[self.op](actual, self.value)

    @property
    def text(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass(frozen=True, slots=True)
class Kpi:
    name: str
    unit: Unit
    higher_is_better: bool
    current: float | None
    previous: float | None
    target: Target | None = None

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (points for NPS)."""
        if self.current is None or self.previous is None:
            return None
        if self.unit == "points":
            return self.current - self.previous
        if self.previous == 0:
            return None
        return (self.current - self.previous) / abs(self.previous)

    @property
    def met(self) -> bool | None:
        return self.target.met(self.current) if self.target else None

    @property
    def improved(self) -> bool | None:
        ch = self.change
        if ch is None or ch == 0:
            return None
        return (ch > 0) == self.higher_is_better


@dataclass(frozen=True, slots=True)
class DailyRow:
    day: date
    visitors: int
    orders: int
    revenue: float


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """The period's KPIs of one persona (``segment``), for the breakdown table."""

    segment: str
    visitors: int
    buyers: int
    orders: int
    revenue: float

    @property
    def conversion_rate(self) -> float | None:
        return _rate(self.buyers, self.visitors)

    @property
    def average_order_value(self) -> float | None:
        return _rate(self.revenue, self.orders)


@dataclass(frozen=True, slots=True)
class Overview:
    period: Period
    kpis: tuple[Kpi, ...]
    daily: tuple[DailyRow, ...]
    currency: str
    by_persona: tuple[SegmentRow, ...] = ()

    @property
    def misses(self) -> tuple[Kpi, ...]:
        return tuple(k for k in self.kpis if k.met is False)


def parse_targets(config: Mapping[str, Any]) -> dict[str, Target]:
    """``[targets] conversion_rate = ">= 0.03"`` -> Target; a bad entry is a ConfigError
    naming the key."""
    raw = config.get("targets", {}) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("[targets] must be a table of KPI = \">= number\"", field="targets")
    out: dict[str, Target] = {}
    for kpi, spec in raw.items():
        if kpi not in KPIS:
            raise ConfigError(f"[targets] {kpi}: unknown KPI; use one of {sorted(KPIS)}",
                              field=f"targets.{kpi}")
        m = _TARGET.match(str(spec)) if isinstance(spec, str) else None
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            out[kpi] = Target(kpi, ">=" if KPIS[kpi][1] else "<=", float(spec))
        elif m:
            out[kpi] = Target(kpi, m.group(1), float(m.group(2)))
        else:
            raise ConfigError(f"[targets] {kpi} = {spec!r}: write e.g. \">= 0.03\"",
                              field=f"targets.{kpi}")
    return out


_PERIOD_SQL = """
WITH bounds AS (
    SELECT * FROM (VALUES (1, $s::DATE, $e::DATE), (0, $ps::DATE, $pe::DATE)) b(cur, lo, hi)
),
base AS (
    SELECT person, type, event, revenue, currency, date,
           CASE WHEN date BETWEEN $s AND $e THEN 1
                WHEN date BETWEEN $ps AND $pe THEN 0 END AS cur
    FROM pev WHERE date <= $e
),
orders AS (SELECT person, date, revenue, currency FROM base WHERE event = 'Order Completed'),
first_order AS (SELECT person, min(date) AS first_day FROM orders GROUP BY 1),
per AS (
    SELECT cur,
        count(DISTINCT person) FILTER (WHERE type IN ('page', 'screen')) AS visitors,
        count(DISTINCT person) FILTER (WHERE event = 'Order Completed') AS buyers,
        count(*) FILTER (WHERE event = 'Order Completed') AS orders,
        coalesce(sum(revenue) FILTER (WHERE event = 'Order Completed'), 0) AS revenue
    FROM base WHERE cur IS NOT NULL GROUP BY cur
),
rep AS (
    SELECT p.cur, count(*) AS repeaters
    FROM (SELECT o.person, b.cur, count(*) AS n, min(o.date) AS d
          FROM orders o JOIN bounds b ON o.date BETWEEN b.lo AND b.hi GROUP BY 1, 2) p
    JOIN first_order f USING (person)
    WHERE p.n > 1 OR f.first_day < p.d
    GROUP BY p.cur
),
churn AS (
    SELECT count(*) AS prev_buyers,
           count(*) FILTER (WHERE p.person NOT IN
               (SELECT DISTINCT person FROM base WHERE cur = 1)) AS churned
    FROM (SELECT DISTINCT person FROM orders WHERE date BETWEEN $ps AND $pe) p
)
SELECT per.cur, visitors, buyers, orders, revenue, coalesce(rep.repeaters, 0),
       (SELECT prev_buyers FROM churn), (SELECT churned FROM churn),
       (SELECT any_value(currency) FROM orders)
FROM per LEFT JOIN rep USING (cur)
"""


def _rate(num: float, den: float) -> float | None:
    return num / den if den else None


def _feedback(con: duckdb.DuckDBPyConnection, files: list[str], period: Period
              ) -> dict[int, tuple[float | None, float | None]]:
    """{1: (nps, csat), 0: (nps, csat)} for the current (1) and previous (0) period."""
    out: dict[int, tuple[float | None, float | None]] = {1: (None, None), 0: (None, None)}
    if not files:
        return out
    rows = con.execute("""
        SELECT CASE WHEN CAST(timestamp AS DATE) BETWEEN $s AND $e THEN 1 ELSE 0 END AS cur,
               count(*) FILTER (WHERE kind = 'nps') AS n_nps,
               count(*) FILTER (WHERE kind = 'nps' AND score >= 9) AS promoters,
               count(*) FILTER (WHERE kind = 'nps' AND score <= 6) AS detractors,
               count(*) FILTER (WHERE kind = 'csat') AS n_csat,
               count(*) FILTER (WHERE kind = 'csat' AND score / scale_max >= 0.8) AS satisfied
        FROM read_parquet($files, union_by_name = true)
        WHERE CAST(timestamp AS DATE) BETWEEN $ps AND $e
        GROUP BY 1
    """, {"files": files, "s": period.start, "e": period.end, "ps": period.prev_start}).fetchall()
    for cur, n_nps, pro, det, n_csat, sat in rows:
        nps = (pro - det) * 100.0 / n_nps if n_nps else None
        out[int(cur)] = (nps, _rate(sat, n_csat))
    return out


def overview(con: duckdb.DuckDBPyConnection, period: Period, targets: Mapping[str, Target],
             feedback: list[str]) -> Overview:
    """KPIs of ``period`` vs the previous period, and visitors/orders/revenue per day."""
    params = {"s": period.start, "e": period.end, "ps": period.prev_start,
              "pe": period.prev_end}
    rows = con.execute(_PERIOD_SQL, params).fetchall()
    by: dict[int, dict[str, float | None]] = {}
    currency = "EUR"
    for cur, visitors, buyers, orders, revenue, repeaters, prev_buyers, churned, cy in rows:
        currency = cy or currency
        by[int(cur)] = {
            "visitors": float(visitors), "conversion_rate": _rate(buyers, visitors),
            "revenue": float(revenue), "orders": float(orders),
            "average_order_value": _rate(revenue, orders),
            "repeat_purchase_rate": _rate(repeaters, buyers),
            "churn_rate": _rate(churned, prev_buyers) if int(cur) == 1 else None,
        }
    fb = _feedback(con, feedback, period)
    for cur in (0, 1):
        by.setdefault(cur, {})
        by[cur]["nps"], by[cur]["csat"] = fb[cur]
    kpis = []
    for name, (unit, better) in KPIS.items():
        if name in ("nps", "csat") and by[1].get(name) is None and by[0].get(name) is None:
            continue  # no feedback yet: no empty cards
        kpis.append(Kpi(name, unit, better, by[1].get(name), by[0].get(name), targets.get(name)))
    daily = con.execute("""
        SELECT date,
               count(DISTINCT person) FILTER (WHERE type IN ('page', 'screen')),
               count(*) FILTER (WHERE event = 'Order Completed'),
               coalesce(sum(revenue) FILTER (WHERE event = 'Order Completed'), 0)
        FROM pev WHERE date BETWEEN $s AND $e GROUP BY date ORDER BY date
    """, {"s": period.start, "e": period.end}).fetchall()
    return Overview(period, tuple(kpis),
                    tuple(DailyRow(d, int(v), int(o), float(r)) for d, v, o, r in daily),
                    currency)


def by_segment(con: duckdb.DuckDBPyConnection, period: Period, segments: str
               ) -> tuple[SegmentRow, ...]:
    """Visitors, buyers, orders and revenue of the period per segment; ``segments`` is a
    view or table (person_id, segment) on ``con``; persons without one are left out."""
    rows = con.execute(f"""
        SELECT s.segment,
               count(DISTINCT e.person) FILTER (WHERE e.type IN ('page', 'screen')),
               count(DISTINCT e.person) FILTER (WHERE e.event = 'Order Completed'),
               count(*) FILTER (WHERE e.event = 'Order Completed'),
               coalesce(sum(e.revenue) FILTER (WHERE e.event = 'Order Completed'), 0)
        FROM pev e JOIN {segments} s ON s.person_id = e.person_id
        WHERE e.date BETWEEN $s AND $e
        GROUP BY 1 ORDER BY 5 DESC, 1
    """, {"s": period.start, "e": period.end}).fetchall()
    return tuple(SegmentRow(str(g), int(v), int(b), int(o), float(r)) for g, v, b, o, r in rows)
