"""Funnels: how many persons go through ordered steps within a conversion window.

One pass per person over their events sorted by time (PostHog's per-person UDF design,
field notes): each step's matching events are a bit in an int64 mask, prepared by the
engine; a numba kernel keeps per step the chain that reached it and returns one row per
person who entered the funnel. Counts, conversion, time to convert, breakdowns and the
persons who dropped at each step are computed from those rows.

Ordered mode has exactly ClickHouse's ``windowFunnel`` semantics: the level is the
highest step reached where every step's event follows the previous one's and lies
within ``window`` of the FIRST step's timestamp (inclusive). Events are ordered by
(timestamp, step): at equal timestamps step k and k+1 chain, and one event matching two
consecutive steps counts for both (measured on ClickHouse 26.9 through chdb; the
property test compares levels with chdb). Extensions beyond windowFunnel:

- ``step_window_seconds`` of a step bounds the time since the previous step;
- an optional step may be skipped (its successor may follow the step before it);
- an exclusion ``(match, from_step, to_step)`` voids the attempt in flight: after such
  an event, progress made from ``from_step`` on can no longer continue towards
  ``to_step`` (a person still counts for the steps reached before it);
- ``strict``: the next event of the person after step k must be step k+1 (or a new
  step 1), any other event ends the attempt;
- ``unordered``: the steps may happen in any order within the window from the first
  of them; the level is the most distinct steps done in one window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import Col, IsNull, Not, Or
from cxlens.errors import SpecError
from cxlens.journeys.arrays import encode, int64_column, person_starts, take_strings
from cxlens.journeys.steps import Match, check_events, field_expr, match_from_dict

Mode = Literal["ordered", "strict", "unordered"]
MODES: tuple[str, ...] = ("ordered", "strict", "unordered")
MAX_STEPS = 32
US = 1_000_000
TTC_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 min", 60.0), ("1-10 min", 600.0), ("10-60 min", 3600.0), ("1-24 h", 86400.0),
    ("1-7 d", 7 * 86400.0), ("> 7 d", math.inf),
)


@dataclass(frozen=True, slots=True)
class Step:
    match: Match
    optional: bool = False
    #: at most this long after the previous step (None: only the funnel window applies)
    step_window_seconds: float | None = None

    @property
    def name(self) -> str:
        return self.match.label()


@dataclass(frozen=True, slots=True)
class Exclusion:
    match: Match
    from_step: int = 1  # 1-based, as shown to users
    to_step: int = 0  # 0 means the last step


@dataclass(frozen=True, slots=True)
class FunnelSpec:
    steps: tuple[Step, ...]
    window_seconds: float = 14 * 86400.0
    mode: Mode = "ordered"
    exclusions: tuple[Exclusion, ...] = ()
    #: a field (channel, device, source, a property key, ...): its value at step 1
    breakdown: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: how many dropped persons per step the result lists (all are in ``persons``)
    list_persons: int = 100

    def __post_init__(self) -> None:
        n = len(self.steps)
        if n < 1:
            raise SpecError("a funnel needs at least one step", field="steps")
        if n > MAX_STEPS:
            raise SpecError(f"a funnel has at most {MAX_STEPS} steps, got {n}", field="steps")
        if self.mode not in MODES:
            raise SpecError(f"mode must be one of {list(MODES)}, got {self.mode!r}",
                            field="mode")
        if not (isinstance(self.window_seconds, int | float) and self.window_seconds > 0
                and math.isfinite(self.window_seconds)):
            raise SpecError(f"the conversion window must be a positive duration, got "
                            f"{self.window_seconds!r} seconds", field="window")
        for i, s in enumerate(self.steps):
            if s.step_window_seconds is not None and not s.step_window_seconds > 0:
                raise SpecError(f"step {i + 1}'s window must be positive",
                                field=f"steps[{i}].window")
            if s.optional and (i == 0 or i == n - 1):
                raise SpecError("the first and the last step cannot be optional",
                                field=f"steps[{i}].optional")
        if self.mode != "ordered" and any(s.optional for s in self.steps):
            raise SpecError("optional steps need mode 'ordered'", field="mode")
        if self.exclusions and self.mode == "unordered":
            raise SpecError("exclusions need mode 'ordered' or 'strict'", field="exclusions")
        if n + len(self.exclusions) > 62:
            raise SpecError("too many steps and exclusions together (at most 62)",
                            field="exclusions")
        for i, e in enumerate(self.exclusions):
            to = e.to_step or n
            if not (1 <= e.from_step < to <= n):
                raise SpecError(f"exclusion {i + 1} must lie between two steps: 1 <= from_step "
                                f"< to_step <= {n}, got {e.from_step}..{to}",
                                field=f"exclusions[{i}]")
        if self.since and self.until and self.since >= self.until:
            raise SpecError("since must be before until", field="since")
        if self.breakdown is not None:
            field_expr(self.breakdown)  # raises SpecError for a bad name


# -- kernels ------------------------------------------------------------------------
@nb.njit(cache=True, nogil=True)
def _ordered(starts: np.ndarray, ts: np.ndarray, mask: np.ndarray, dim: np.ndarray, n: int,
             window: int, step_win: np.ndarray, optional: np.ndarray, ex_from: np.ndarray,
             ex_to: np.ndarray, strict: bool, out_level: np.ndarray, out_times: np.ndarray,
             out_dim: np.ndarray) -> None:
    have = np.zeros(n, dtype=np.bool_)
    first = np.zeros(n, dtype=np.int64)
    last = np.zeros(n, dtype=np.int64)
    times = np.full((n, n), -1, dtype=np.int64)
    sdim = np.zeros(n, dtype=np.int32)
    ne = ex_from.shape[0]
    for p in range(starts.shape[0] - 1):
        have[:] = False
        best = 0
        cur = -1  # strict: level index of the chain that ended at the previous event
        cur_dim = np.int32(-1)
        i = starts[p]
        end = starts[p + 1]
        while i < end and best < n:
            t = ts[i]
            m = np.int64(0)
            j = i
            # events at one timestamp are handled as one group, steps ascending, which is
            # how windowFunnel orders (timestamp, step) pairs
            while j < end and ts[j] == t:
                m |= mask[j]
                if dim[j] >= 0:
                    cur_dim = dim[j]
                j += 1
            i = j
            for e in range(ne):
                if (m >> (n + e)) & 1:
                    for k in range(ex_from[e], ex_to[e]):
                        have[k] = False
                    if strict and ex_from[e] <= cur < ex_to[e]:
                        cur = -1
            if strict:
                progressed = False
                while True:
                    k = cur + 1
                    if cur < 0 or k >= n or not (m >> k) & 1:
                        break
                    if t > first[cur] + window or t - last[cur] > step_win[k]:
                        break
                    have[k] = True
                    first[k] = first[cur]
                    last[k] = t
                    times[k, :] = times[cur, :]
                    times[k, k] = t
                    sdim[k] = sdim[cur]
                    cur = k
                    progressed = True
                if not progressed:
                    if m & 1:
                        cur = 0
                        have[0] = True
                        first[0] = t
                        last[0] = t
                        times[0, :] = -1
                        times[0, 0] = t
                        sdim[0] = cur_dim
                    else:
                        cur = -1
                if cur >= 0 and cur + 1 > best:
                    best = cur + 1
                    out_times[p, :] = times[cur, :]
                    out_dim[p] = sdim[cur]
                continue
            for k in range(n):
                if not (m >> k) & 1:
                    continue
                if k == 0:
                    have[0] = True
                    first[0] = t
                    last[0] = t
                    times[0, :] = -1
                    times[0, 0] = t
                    sdim[0] = cur_dim
                else:
                    q = k - 1
                    while q > 0 and not have[q] and optional[q]:
                        q -= 1
                    if not have[q] or t > first[q] + window or t - last[q] > step_win[k]:
                        continue
                    have[k] = True
                    first[k] = first[q]
                    last[k] = t
                    times[k, :] = times[q, :]
                    times[k, k] = t
                    sdim[k] = sdim[q]
                if k + 1 > best:
                    best = k + 1
                    out_times[p, :] = times[k, :]
                    out_dim[p] = sdim[k]
        out_level[p] = best


@nb.njit(cache=True, nogil=True)
def _unordered(starts: np.ndarray, ts: np.ndarray, mask: np.ndarray, dim: np.ndarray, n: int,
               window: int, out_level: np.ndarray, out_times: np.ndarray,
               out_dim: np.ndarray) -> None:
    full = (np.int64(1) << n) - 1
    seen_at = np.full(n, -1, dtype=np.int64)
    for p in range(starts.shape[0] - 1):
        best = 0
        cur_dim = np.int32(-1)
        a = starts[p]
        end = starts[p + 1]
        while a < end and best < n:
            if dim[a] >= 0:
                cur_dim = dim[a]
            if not mask[a] & full:
                a += 1
                continue
            # anchor: the first step event of an attempt; collect steps within the window
            seen_at[:] = -1
            got = 0
            anchor_dim = cur_dim
            j = a
            while j < end and ts[j] <= ts[a] + window and got < n:
                mj = mask[j] & full
                for k in range(n):
                    if (mj >> k) & 1 and seen_at[k] < 0:
                        seen_at[k] = ts[j]
                        got += 1
                j += 1
            if got > best:
                best = got
                out_times[p, :] = seen_at
                out_dim[p] = anchor_dim
            a += 1
        out_level[p] = best


# -- running ------------------------------------------------------------------------
def _prepared(spec: FunnelSpec) -> Prepared:
    flags = tuple(s.match.cond() for s in spec.steps) + tuple(
        e.match.cond() for e in spec.exclusions)
    strings: tuple[tuple[str, Any], ...] = ()
    where = None if spec.mode == "strict" else Or(flags)
    if spec.breakdown is not None:
        dim = field_expr(spec.breakdown)
        strings = (("dim", dim),)
        if where is not None and spec.breakdown == "channel":
            # events without a channel inherit the last one before them (the session's
            # acquisition touch), so channel-bearing events are needed even off-step
            where = Or((where, Not(IsNull(dim))))
    return Prepared(where=where, flags=flags, strings=strings, since=spec.since,
                    until=spec.until)


def person_schema(spec: FunnelSpec) -> pa.Schema:
    fields = [pa.field("person", pa.string()), pa.field("level", pa.int32()),
              pa.field("breakdown", pa.string())]
    fields += [pa.field(f"step_{i + 1}_at", pa.int64()) for i in range(len(spec.steps))]
    return pa.schema(fields)


def kernel(spec: FunnelSpec) -> Any:
    """The per-partition function: prepared rows -> one row per person who entered."""
    n = len(spec.steps)
    window = round(spec.window_seconds * US)
    step_win = np.array([round(s.step_window_seconds * US) if s.step_window_seconds
                         else np.iinfo(np.int64).max // 4 for s in spec.steps], dtype=np.int64)
    optional = np.array([s.optional for s in spec.steps], dtype=np.bool_)
    ex_from = np.array([e.from_step - 1 for e in spec.exclusions], dtype=np.int64)
    ex_to = np.array([(e.to_step or n) - 1 for e in spec.exclusions], dtype=np.int64)
    schema = person_schema(spec)

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        mask = int64_column(table, "mask")
        persons = starts.shape[0] - 1
        if "dim" in table.column_names:
            dim, dictionary = encode(table.column("dim"))
        else:
            dim, dictionary = np.full(len(ts), -1, dtype=np.int32), pa.array([], pa.string())
        level = np.zeros(persons, dtype=np.int32)
        times = np.full((persons, n), -1, dtype=np.int64)
        out_dim = np.full(persons, -1, dtype=np.int32)
        if spec.mode == "unordered":
            _unordered(starts, ts, mask, dim, n, window, level, times, out_dim)
        else:
            _ordered(starts, ts, mask, dim, n, window, step_win, optional, ex_from, ex_to,
                     spec.mode == "strict", level, times, out_dim)
        entered = np.flatnonzero(level > 0)
        cols: dict[str, Any] = {
            "person": table.column("person").take(pa.array(starts[entered])),
            "level": level[entered],
            "breakdown": take_strings(dictionary, out_dim[entered]),
        }
        for k in range(n):
            col = times[entered, k]
            cols[f"step_{k + 1}_at"] = pa.array(col, mask=col < 0, type=pa.int64())
        return pa.table(cols, schema=schema)

    return run


@dataclass(frozen=True, slots=True)
class StepResult:
    step: int
    name: str
    persons: int
    conversion: float  # of persons who entered step 1
    from_previous: float
    dropped: int  # reached the previous step, not this one
    median_seconds_from_previous: float | None
    dropped_persons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimeToConvert:
    converted: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    histogram: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class FunnelResult:
    spec: FunnelSpec
    steps: tuple[StepResult, ...]
    time_to_convert: TimeToConvert
    breakdown: dict[str, tuple[StepResult, ...]] = field(default_factory=dict)
    #: one row per person who entered: person, level, breakdown, step_<k>_at (µs)
    persons: pa.Table = field(default_factory=pa.table)

    def dropped_at(self, step: int) -> list[str]:
        """Every person who reached step ``step - 1`` but not ``step`` (1-based)."""
        if not 2 <= step <= len(self.steps):
            raise SpecError(f"step must be 2..{len(self.steps)}", field="step")
        at = self.persons.filter(pc.equal(self.persons.column("level"), step - 1))
        return sorted(at.column("person").to_pylist())

    def to_dict(self) -> dict[str, Any]:
        def steps_doc(steps: tuple[StepResult, ...]) -> list[dict[str, Any]]:
            return [{
                "step": s.step, "name": s.name, "persons": s.persons,
                "conversion": s.conversion, "from_previous": s.from_previous,
                "dropped": s.dropped, "median_seconds_from_previous":
                    s.median_seconds_from_previous,
                "dropped_persons": list(s.dropped_persons),
            } for s in steps]

        ttc = self.time_to_convert
        return {
            "mode": self.spec.mode, "window_seconds": self.spec.window_seconds,
            "steps": steps_doc(self.steps),
            "time_to_convert": {
                "converted": ttc.converted, "mean_seconds": ttc.mean_seconds,
                "median_seconds": ttc.median_seconds, "p90_seconds": ttc.p90_seconds,
                "histogram": [{"bucket": b, "persons": c} for b, c in ttc.histogram],
            },
            "breakdown": {k: steps_doc(v) for k, v in self.breakdown.items()},
        }


def _step_results(spec: FunnelSpec, level: np.ndarray, times: np.ndarray,
                  persons: pa.Array | pa.ChunkedArray | None) -> tuple[StepResult, ...]:
    n = len(spec.steps)
    out: list[StepResult] = []
    counts: list[int] = []
    for k, step in enumerate(spec.steps):
        reached = level >= k + 1
        if step.optional:
            reached &= times[:, k] >= 0
        counts.append(int(reached.sum()))
    for k, step in enumerate(spec.steps):
        prev = counts[k - 1] if k else counts[0]
        med: float | None = None
        if k and spec.mode != "unordered":
            q = k - 1
            while q > 0 and spec.steps[q].optional:
                q -= 1
            ok = (times[:, k] >= 0) & (times[:, q] >= 0)
            if ok.any():
                med = float(np.median(times[ok, k] - times[ok, q])) / US
        dropped_names: tuple[str, ...] = ()
        if persons is not None and k and spec.list_persons > 0:
            # only the dropped persons' ids become Python strings, smallest first
            who = persons.take(pa.array(np.flatnonzero(level == k)))
            first = pc.sort_indices(who)[: spec.list_persons]
            dropped_names = tuple(who.take(first).to_pylist())
        out.append(StepResult(
            step=k + 1, name=step.name, persons=counts[k],
            conversion=counts[k] / counts[0] if counts[0] else 0.0,
            from_previous=counts[k] / prev if prev else 0.0,
            dropped=max(prev - counts[k], 0) if k else 0,
            median_seconds_from_previous=med, dropped_persons=dropped_names,
        ))
    del n
    return tuple(out)


def _times_matrix(table: pa.Table, n: int) -> np.ndarray:
    if table.num_rows == 0:
        return np.zeros((0, n), dtype=np.int64)
    return np.stack([np.asarray(pc.fill_null(table.column(f"step_{k + 1}_at"), -1)
                                .to_numpy(), dtype=np.int64) for k in range(n)], axis=1)


def summarize(spec: FunnelSpec, persons: pa.Table) -> FunnelResult:
    """Counts, conversion, time to convert and breakdowns from the per-person rows."""
    n = len(spec.steps)
    level = np.asarray(persons.column("level").to_numpy(), dtype=np.int32)
    times = _times_matrix(persons, n)
    steps = _step_results(spec, level, times, persons.column("person"))
    done = level >= n
    ttc_s = (times[done, n - 1] - times[done].clip(min=0).min(axis=1)
             if spec.mode == "unordered" else times[done, n - 1] - times[done, 0]) / US
    hist: list[tuple[str, int]] = []
    lower = -math.inf
    for label, upper in TTC_BUCKETS:
        hist.append((label, int(((ttc_s >= lower) & (ttc_s < upper)).sum())))
        lower = upper
    ttc = TimeToConvert(
        converted=int(done.sum()),
        # sorted first: the sum must not depend on the order partitions arrive in
        mean_seconds=float(np.sort(ttc_s).mean()) if len(ttc_s) else None,
        median_seconds=float(np.median(ttc_s)) if len(ttc_s) else None,
        p90_seconds=float(np.quantile(ttc_s, 0.9)) if len(ttc_s) else None,
        histogram=tuple(hist),
    )
    breakdown: dict[str, tuple[StepResult, ...]] = {}
    if spec.breakdown is not None:
        codes, labels = encode(pc.fill_null(persons.column("breakdown"), "(none)"))
        for code, value in sorted(enumerate(labels.to_pylist()), key=lambda cv: cv[1]):
            sel = codes == code
            breakdown[value] = _step_results(spec, level[sel], times[sel], None)
    return FunnelResult(spec, steps, ttc, breakdown, persons)


def funnel(engine: Engine, spec: FunnelSpec, *, check: bool = True) -> FunnelResult:
    """Run ``spec`` on ``engine`` (DuckDBEngine, SparkEngine, ...)."""
    if check:
        known = set(engine.distinct(Col("event")))
        check_events(known, [(f"steps[{i}]", s.match) for i, s in enumerate(spec.steps)]
                     + [(f"exclusions[{i}]", e.match) for i, e in enumerate(spec.exclusions)])
    table = engine.run(_prepared(spec), kernel(spec), person_schema(spec))
    return summarize(spec, table)


# -- specs from documents (TOML/JSON files, HTTP bodies) --------------------------------
def spec_from_dict(doc: Mapping[str, Any]) -> FunnelSpec:
    """A FunnelSpec from ``{"steps": ["Product Viewed", {"event": ..., "where": ...}],
    "window": "7d", "mode": ..., "exclusions": [...], "breakdown": ...}``."""
    from cxlens.journeys.specs import duration_seconds, optional_time

    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list):
        raise SpecError("steps must be a list of events", field="steps")
    steps: list[Step] = []
    for i, raw in enumerate(raw_steps):
        if isinstance(raw, str):
            from cxlens.journeys.steps import parse_match

            steps.append(Step(parse_match(raw)))
        elif isinstance(raw, Mapping):
            win = raw.get("window")
            steps.append(Step(match_from_dict(raw, f"steps[{i}]"),
                              optional=bool(raw.get("optional", False)),
                              step_window_seconds=None if win is None
                              else duration_seconds(win, f"steps[{i}].window")))
        else:
            raise SpecError("a step is an event name or {event, where}", field=f"steps[{i}]")
    exclusions: list[Exclusion] = []
    for i, raw in enumerate(doc.get("exclusions", []) or []):
        if not isinstance(raw, Mapping):
            raise SpecError("an exclusion is {event, from_step, to_step}",
                            field=f"exclusions[{i}]")
        exclusions.append(Exclusion(match_from_dict(raw, f"exclusions[{i}]"),
                                    int(raw.get("from_step", 1)), int(raw.get("to_step", 0))))
    mode = str(doc.get("mode", "ordered"))
    if mode not in MODES:
        raise SpecError(f"mode must be one of {list(MODES)}, got {mode!r}", field="mode")
    return FunnelSpec(
        steps=tuple(steps),
        window_seconds=duration_seconds(doc.get("window", "14d"), "window"),
        mode=mode,  # type: ignore[arg-type]
        exclusions=tuple(exclusions),
        breakdown=doc.get("breakdown"),
        since=optional_time(doc.get("since"), "since"),
        until=optional_time(doc.get("until"), "until"),
        list_persons=int(doc.get("list_persons", 100)),
    )
