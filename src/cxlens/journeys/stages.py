"""Journey state per person: current stage, stage history with entry times, time in stage.

Events become stages through a journey definition (``touchpoints.py``). A person enters
a stage when an event of that stage follows an event of another stage (repeats within a
stage do not re-enter it); the current stage is the last one entered, the furthest is
the most advanced one ever reached. Time in the current stage is measured up to
``as_of`` (default: the last event in the data, so results do not depend on the clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import Expr, IsNull, Not
from cxlens.journeys.arrays import encode, int64_column, person_starts
from cxlens.journeys.touchpoints import JourneyDefinition

US = 1_000_000


@dataclass(frozen=True, slots=True)
class StagesSpec:
    journey: JourneyDefinition
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None


@nb.njit(cache=True, nogil=True)
def _history(starts: np.ndarray, ts: np.ndarray, stage: np.ndarray, out_person: np.ndarray,
             out_stage: np.ndarray, out_at: np.ndarray, last_at: np.ndarray) -> int:
    k = 0
    for p in range(starts.shape[0] - 1):
        prev = -1
        for i in range(starts[p], starts[p + 1]):
            if stage[i] != prev:
                out_person[k] = p
                out_stage[k] = stage[i]
                out_at[k] = ts[i]
                k += 1
                prev = stage[i]
        last_at[p] = ts[starts[p + 1] - 1]
    return k


SCHEMA = pa.schema([("person", pa.string()), ("current", pa.string()),
                    ("entered_at", pa.int64()), ("furthest", pa.string()),
                    ("last_at", pa.int64()), ("history", pa.list_(pa.string())),
                    ("history_at", pa.list_(pa.int64()))])


def kernel(spec: StagesSpec) -> Any:
    order = {s: i for i, s in enumerate(spec.journey.stages)}

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        codes, dictionary = encode(table.column("stage"))
        # codes -> stage order, so "furthest" is a max over integers
        rank = np.array([order[s] for s in dictionary.to_pylist()], dtype=np.int32)
        stage = rank[codes]
        n, persons = len(ts), len(starts) - 1
        op, os_, oa = np.empty(n, np.int64), np.empty(n, np.int32), np.empty(n, np.int64)
        last_at = np.empty(persons, np.int64)
        k = _history(starts, ts, stage, op, os_, oa, last_at)
        op, os_, oa = op[:k], os_[:k], oa[:k]
        offsets = np.searchsorted(op, np.arange(persons + 1)).astype(np.int32)
        names = pa.array(list(spec.journey.stages), pa.string())
        last = offsets[1:] - 1
        furthest = np.maximum.reduceat(os_, offsets[:-1]) if k else np.zeros(0, np.int32)
        return pa.table({
            "person": table.column("person").take(pa.array(starts[:-1])),
            "current": names.take(pa.array(os_[last])),
            "entered_at": oa[last], "furthest": names.take(pa.array(furthest)),
            "last_at": last_at,
            "history": pa.ListArray.from_arrays(pa.array(offsets), names.take(pa.array(os_))),
            "history_at": pa.ListArray.from_arrays(pa.array(offsets), pa.array(oa)),
        }, schema=SCHEMA)

    return run


@dataclass(frozen=True, slots=True)
class StageSummary:
    stage: str
    current: int  # persons whose current stage this is
    reached: int  # persons who were ever in it
    median_days_in_stage: float | None  # of those currently in it, up to as_of


@dataclass(frozen=True, slots=True)
class StagesResult:
    journey: str
    version: int
    as_of: str
    stages: tuple[StageSummary, ...]
    #: one row per person: current, entered_at, furthest, history, history_at (µs)
    persons: pa.Table

    def to_dict(self) -> dict[str, Any]:
        return {"journey": self.journey, "version": self.version, "as_of": self.as_of,
                "persons": self.persons.num_rows,
                "stages": [{"stage": s.stage, "current": s.current, "reached": s.reached,
                            "median_days_in_stage": s.median_days_in_stage}
                           for s in self.stages]}


def summarize(spec: StagesSpec, persons: pa.Table) -> StagesResult:
    persons = persons.sort_by([("person", "ascending")])
    last = persons.column("last_at").to_numpy() if persons.num_rows else np.zeros(0, np.int64)
    as_of_us = (int(spec.as_of.timestamp() * US) if spec.as_of is not None
                else int(last.max()) if len(last) else 0)
    current = np.asarray(persons.column("current").to_pylist(), dtype=object)
    entered = np.asarray(persons.column("entered_at").to_numpy(), dtype=np.int64)
    visited = pc.list_flatten(persons.column("history"))
    parents = pc.list_parent_indices(persons.column("history"))
    pairs = pa.table({"stage": visited, "p": parents}).group_by("stage").aggregate(
        [("p", "count_distinct")])
    reached = dict(zip(pairs.column("stage").to_pylist(),
                       pairs.column("p_count_distinct").to_pylist(), strict=True))
    out = []
    for stage in spec.journey.stages:
        sel = current == stage
        days = (as_of_us - entered[sel]) / (86400 * US)
        out.append(StageSummary(stage, int(sel.sum()), int(reached.get(stage, 0)),
                                float(np.median(days)) if len(days) else None))
    as_of = datetime.fromtimestamp(as_of_us / US, tz=UTC).isoformat()
    return StagesResult(spec.journey.name, spec.journey.version, as_of, tuple(out), persons)


def prepared(spec: StagesSpec, extra: tuple[tuple[str, Expr], ...] = ()) -> Prepared:
    """Events that belong to a stage, with the stage's name (and ``extra`` columns)."""
    expr = spec.journey.stage_expr()
    return Prepared(where=Not(IsNull(expr)), strings=(("stage", expr), *extra),
                    since=spec.since, until=spec.until)


def stages(engine: Engine, spec: StagesSpec) -> StagesResult:
    return summarize(spec, engine.run(prepared(spec), kernel(spec), SCHEMA))
