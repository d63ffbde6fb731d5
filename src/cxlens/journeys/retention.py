"""Retention and lifecycle: cohorts by first touch, returns per period, repeat purchases.

A person's cohort is the period (UTC day, Monday-based week or calendar month) of their
first ``first`` event (any event by default); they are retained in period k when they
did a ``returning`` event (any event by default) k periods later. The kernel emits one
row per person and active period, which merges by concatenation; lifecycle counts per
period follow PostHog: new (first period), returning (active in the period before too),
resurrected (active again after a gap) and dormant (active the period before, not now).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import numba as nb
import numpy as np
import pyarrow as pa

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import TRUE, Col, Or
from cxlens.errors import SpecError
from cxlens.journeys.arrays import int64_column, person_starts
from cxlens.journeys.breakdowns import by_value, person_attribute, split_kernel, split_schema
from cxlens.journeys.specs import check_period
from cxlens.journeys.steps import Match, check_events, match_from_dict, parse_match

Period = Literal["day", "week", "month"]
PERIODS = ("day", "week", "month")
DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class RetentionSpec:
    period: Period = "week"
    first: Match | None = None
    returning: Match | None = None
    periods: int = 8
    #: the event that counts as a purchase for the repeat-purchase rate
    purchase: Match | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: a person attribute (persona, account.industry, trait.<name>): cohorts per value
    breakdown: str | None = None

    def __post_init__(self) -> None:
        person_attribute(self.breakdown)
        check_period(self.since, self.until)
        if self.period not in PERIODS:
            raise SpecError(f"period must be one of {list(PERIODS)}, got {self.period!r}",
                            field="period")
        if not isinstance(self.periods, int) or not 1 <= self.periods <= 120:
            raise SpecError(f"periods must be 1..120, got {self.periods!r}", field="periods")


def period_index(ts_us: np.ndarray, period: str) -> np.ndarray:
    """Periods since the epoch: days, Monday-based weeks (1970-01-01 was a Thursday) or
    calendar months."""
    days: np.ndarray = np.floor_divide(ts_us, DAY_US)
    if period == "day":
        return days
    if period == "week":
        weeks: np.ndarray = np.floor_divide(days + 3, 7)
        return weeks
    return ts_us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)


def period_start(index: int, period: str) -> str:
    if period == "day":
        return str(np.datetime64(index, "D"))
    if period == "week":
        return str(np.datetime64(index * 7 - 3, "D"))
    return str(np.datetime64(index, "M"))


@nb.njit(cache=True, nogil=True)
def _active(starts: np.ndarray, per: np.ndarray, mask: np.ndarray, out_cohort: np.ndarray,
            out_period: np.ndarray, out_purchases: np.ndarray, out_prev: np.ndarray,
            out_next: np.ndarray) -> int:
    """One row per person and active period, in period order, with whether the person
    was active in the period before and after: all the summary needs, so no person ids
    have to leave the partition."""
    k = 0
    for p in range(starts.shape[0] - 1):
        cohort = np.int64(-1)
        purchases = 0
        first_row = k
        for i in range(starts[p], starts[p + 1]):
            m = mask[i]
            if m & 4:
                purchases += 1
            if cohort < 0:
                if not m & 1:
                    continue
                cohort = per[i]
            elif not (m & 2) or per[i] == out_period[k - 1]:
                continue
            out_cohort[k] = cohort
            out_period[k] = per[i]
            out_purchases[k] = 0
            out_prev[k] = k > first_row and out_period[k - 1] == per[i] - 1
            out_next[k] = False
            if k > first_row and out_prev[k]:
                out_next[k - 1] = True
            k += 1
        if k > first_row:
            out_purchases[first_row] = purchases  # the count rides on the first row
    return k


ACTIVE_SCHEMA = pa.schema([("cohort", pa.int64()), ("period", pa.int64()),
                           ("purchases", pa.int64()), ("prev_active", pa.bool_()),
                           ("next_active", pa.bool_())])


def kernel(spec: RetentionSpec) -> Any:
    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        per = period_index(int64_column(table, "ts"), spec.period)
        mask = int64_column(table, "mask")
        n = len(per)
        oc, ope, opu = (np.empty(n, np.int64) for _ in range(3))
        prev, nxt = np.empty(n, np.bool_), np.empty(n, np.bool_)
        k = _active(starts, per, mask, oc, ope, opu, prev, nxt)
        return pa.table({"cohort": oc[:k], "period": ope[:k], "purchases": opu[:k],
                         "prev_active": prev[:k], "next_active": nxt[:k]},
                        schema=ACTIVE_SCHEMA)

    return run


@dataclass(frozen=True, slots=True)
class Cohort:
    start: str
    persons: int
    retained: tuple[int, ...]  # persons active k periods after the cohort period, k = 0..


@dataclass(frozen=True, slots=True)
class LifecyclePeriod:
    start: str
    new: int
    returning: int
    resurrected: int
    dormant: int


@dataclass(frozen=True, slots=True)
class RetentionResult:
    spec: RetentionSpec
    cohorts: tuple[Cohort, ...]
    lifecycle: tuple[LifecyclePeriod, ...]
    buyers: int
    repeat_buyers: int
    #: the same result per value of ``spec.breakdown``
    breakdown: dict[str, RetentionResult] = field(default_factory=dict)

    @property
    def repeat_purchase_rate(self) -> float:
        return self.repeat_buyers / self.buyers if self.buyers else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = self._doc()
        if self.spec.breakdown is not None:
            out["breakdown"] = {v: r._doc() for v, r in self.breakdown.items()}
        return out

    def _doc(self) -> dict[str, Any]:
        return {
            "period": self.spec.period,
            "cohorts": [{"start": c.start, "persons": c.persons, "retained": list(c.retained),
                         "rates": [r / c.persons if c.persons else 0.0 for r in c.retained]}
                        for c in self.cohorts],
            "lifecycle": [{"start": lp.start, "new": lp.new, "returning": lp.returning,
                           "resurrected": lp.resurrected, "dormant": lp.dormant}
                          for lp in self.lifecycle],
            "buyers": self.buyers, "repeat_buyers": self.repeat_buyers,
            "repeat_purchase_rate": self.repeat_purchase_rate,
        }


def summarize(spec: RetentionSpec, rows: pa.Table) -> RetentionResult:
    if rows.num_rows == 0:
        return RetentionResult(spec, (), (), 0, 0)
    cohort = np.asarray(rows.column("cohort").to_numpy(), np.int64)
    period = np.asarray(rows.column("period").to_numpy(), np.int64)
    purchases = np.asarray(rows.column("purchases").to_numpy(), np.int64)
    first_rows = period == cohort
    base = int(min(period.min(), cohort.min()))
    span = int(period.max()) - base + 1
    # everything below is counting with bincount over small integer keys: no Python
    # loop over rows, so a few million person-periods summarise in milliseconds
    c_idx = cohort - base
    off = period - cohort
    sizes = np.bincount(c_idx[first_rows], minlength=span)
    keep = off < spec.periods
    grid = np.bincount(c_idx[keep] * spec.periods + off[keep],
                       minlength=span * spec.periods).reshape(span, spec.periods)
    cohorts = [Cohort(period_start(int(base + c), spec.period), int(sizes[c]),
                      tuple(int(x) for x in grid[c])) for c in np.flatnonzero(sizes)]
    prev_active = np.asarray(rows.column("prev_active").to_numpy(zero_copy_only=False), bool)
    next_active = np.asarray(rows.column("next_active").to_numpy(zero_copy_only=False), bool)
    p_idx = period - base
    new = np.bincount(p_idx[first_rows], minlength=span)
    ret = np.bincount(p_idx[~first_rows & prev_active], minlength=span)
    res = np.bincount(p_idx[~first_rows & ~prev_active], minlength=span)
    dormant = np.bincount(p_idx[~next_active] + 1, minlength=span + 1)
    life = [LifecyclePeriod(period_start(base + q, spec.period), int(new[q]), int(ret[q]),
                            int(res[q]), int(dormant[q])) for q in range(span)]
    per_person = purchases[first_rows]
    return RetentionResult(spec, tuple(cohorts), tuple(life), int((per_person >= 1).sum()),
                           int((per_person >= 2).sum()))


def _prepared(spec: RetentionSpec) -> Prepared:
    purchase = spec.purchase or Match("Order Completed")
    flags = (spec.first.cond() if spec.first else TRUE,
             spec.returning.cond() if spec.returning else TRUE, purchase.cond())
    where = None if spec.first is None or spec.returning is None else Or(flags)
    attr = person_attribute(spec.breakdown)
    return Prepared(where=where, flags=flags, since=spec.since, until=spec.until,
                    strings=() if attr is None else (("dim", attr),))


def retention(engine: Engine, spec: RetentionSpec, *, check: bool = True) -> RetentionResult:
    if check:
        known = set(engine.distinct(Col("event")))
        check_events(known, [(f, m) for f, m in (("first", spec.first),
                                                  ("returning", spec.returning),
                                                  ("purchase", spec.purchase)) if m is not None])
    if spec.breakdown is None:
        return summarize(spec, engine.run(_prepared(spec), kernel(spec), ACTIVE_SCHEMA))
    rows = engine.run(_prepared(spec), split_kernel(kernel(spec), ACTIVE_SCHEMA),
                      split_schema(ACTIVE_SCHEMA))
    parts = {v: summarize(spec, t) for v, t in by_value(rows).items()}
    return replace(summarize(spec, rows), breakdown=parts)


def spec_from_dict(doc: Mapping[str, Any]) -> RetentionSpec:
    from cxlens.journeys.specs import optional_time

    def match(key: str) -> Match | None:
        raw = doc.get(key)
        if raw is None:
            return None
        if isinstance(raw, str):
            return parse_match(raw)
        if isinstance(raw, Mapping):
            return match_from_dict(raw, key)
        raise SpecError(f"{key} is an event name or {{event, where}}", field=key)

    period = str(doc.get("period", "week"))
    if period not in PERIODS:
        raise SpecError(f"period must be one of {list(PERIODS)}, got {period!r}",
                        field="period")
    return RetentionSpec(period=period,  # type: ignore[arg-type]
                         first=match("first"), returning=match("returning"),
                         periods=int(doc.get("periods", 8)), purchase=match("purchase"),
                         since=optional_time(doc.get("since"), "since"),
                         until=optional_time(doc.get("until"), "until"),
                         breakdown=doc.get("breakdown"))
