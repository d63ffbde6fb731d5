"""Journey state per person and per account: current stage, stage history, time in stage.

The per-person stage history is the stages kernel (``stages.py``: a stage is entered
when an event of it follows one of another stage), run by either engine. From it:

- **person**: current stage (the last one entered) with its entry time and days in it up
  to ``as_of`` (default: the last event in the data, so a result does not depend on the
  clock), the furthest stage with the time it was first entered, the stages reached (in
  the journey's order) and the full history with entry times.
- **account** (B2B): the furthest stage any of the account's persons reached, entered
  when the first of them entered it; days in it up to ``as_of``; the stages reached by
  any member; per stage the first entry by any member. A person's account is the account
  of their latest event that names one (the ``account`` person attribute), joined by the
  engine like any person attribute.

``write_traits`` stores the person state as computed profile traits (``current_stage``,
``stage_entered_at``, ``days_in_stage``, ``stages_reached``) through identity's profile
store, so ``profile show`` and ``trait.current_stage`` breakdowns see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine
from cxlens.engines.expr import Attr
from cxlens.errors import SpecError
from cxlens.journeys import stages as stages_mod
from cxlens.journeys.arrays import person_starts
from cxlens.journeys.stages import StagesSpec, StageSummary
from cxlens.journeys.touchpoints import JourneyDefinition
from cxlens.store.workspace import Workspace

Level = Literal["person", "account"]
LEVELS = ("person", "account")
US = 1_000_000
DAY_US = 86_400 * US
NEVER = np.iinfo(np.int64).max

#: one row per person or account
STATE_SCHEMA = pa.schema([
    ("id", pa.string()), ("current_stage", pa.string()), ("stage_entered_at", pa.int64()),
    ("days_in_stage", pa.float64()), ("furthest_stage", pa.string()),
    ("furthest_entered_at", pa.int64()), ("stages_reached", pa.list_(pa.string())),
    ("history", pa.list_(pa.string())), ("history_at", pa.list_(pa.int64())),
    ("persons", pa.int64()),
])


@dataclass(frozen=True, slots=True)
class StateSpec:
    journey: JourneyDefinition
    level: Level = "person"
    #: time in stage is measured up to here (default: the last event in the data)
    as_of: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: how many rows the JSON document lists (``result.table`` has all)
    limit: int = 100

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise SpecError(f"level must be one of {list(LEVELS)}, got {self.level!r}",
                            field="level")
        if not isinstance(self.limit, int) or self.limit < 0:
            raise SpecError(f"limit must be 0 or more, got {self.limit!r}", field="limit")
        if self.since and self.until and self.since >= self.until:
            raise SpecError("since must be before until", field="since")

    def stages_spec(self) -> StagesSpec:
        return StagesSpec(self.journey, self.since, self.until, self.as_of)


@dataclass(frozen=True, slots=True)
class StageEntry:
    stage: str
    entered_at: str


@dataclass(frozen=True, slots=True)
class EntityState:
    id: str
    current_stage: str
    stage_entered_at: str
    days_in_stage: float
    furthest_stage: str
    stages_reached: tuple[str, ...]
    history: tuple[StageEntry, ...]
    persons: int


@dataclass(frozen=True, slots=True)
class StateResult:
    spec: StateSpec
    as_of: str
    stages: tuple[StageSummary, ...]
    #: one row per person or account (STATE_SCHEMA), sorted by id; times in µs (UTC)
    table: pa.Table

    def rows(self, limit: int | None = None) -> list[EntityState]:
        t = self.table if limit is None else self.table.slice(0, limit)
        out = []
        for r in t.to_pylist():
            history = tuple(StageEntry(s, _iso(at)) for s, at in zip(
                r["history"], r["history_at"], strict=True))
            out.append(EntityState(r["id"], r["current_stage"], _iso(r["stage_entered_at"]),
                                   r["days_in_stage"], r["furthest_stage"],
                                   tuple(r["stages_reached"]), history, r["persons"]))
        return out

    def get(self, id_: str) -> EntityState:
        """The state of one person (person_id) or account."""
        hit = self.table.filter(pc.equal(self.table.column("id"), id_))
        if hit.num_rows == 0:
            raise SpecError(f"no {self.spec.level} {id_!r} has reached a stage of journey "
                            f"{self.spec.journey.name!r}", field="id")
        return StateResult(self.spec, self.as_of, self.stages, hit).rows()[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey": self.spec.journey.name, "version": self.spec.journey.version,
            "level": self.spec.level, "as_of": self.as_of, "count": self.table.num_rows,
            "stages": [{"stage": s.stage, "current": s.current, "reached": s.reached,
                        "median_days_in_stage": s.median_days_in_stage} for s in self.stages],
            "rows": [{"id": e.id, "current_stage": e.current_stage,
                      "stage_entered_at": e.stage_entered_at,
                      "days_in_stage": round(e.days_in_stage, 4),
                      "furthest_stage": e.furthest_stage,
                      "stages_reached": list(e.stages_reached),
                      "history": [{"stage": h.stage, "entered_at": h.entered_at}
                                  for h in e.history],
                      "persons": e.persons} for e in self.rows(self.spec.limit)],
        }


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / US, tz=UTC).isoformat()


ACCOUNT = Attr("account")


def kernel(spec: StateSpec) -> Any:
    """The stages kernel, plus each person's account at account level."""
    base = stages_mod.kernel(spec.stages_spec())
    schema = _person_schema(spec)

    def run(table: pa.Table) -> pa.Table:
        out = base(table)
        if spec.level == "account":
            starts = person_starts(table.column("person"))
            out = out.append_column("account", table.column("account").take(
                pa.array(starts[:-1])))
        return out.cast(schema)

    return run


def _person_schema(spec: StateSpec) -> pa.Schema:
    if spec.level == "account":
        return stages_mod.SCHEMA.append(pa.field("account", pa.string()))
    return stages_mod.SCHEMA


def _entities(ids: pa.Array, ranks: np.ndarray, at: np.ndarray, offsets: np.ndarray,
              names: list[str], as_of: int, persons: np.ndarray,
              current: np.ndarray | None = None,
              current_at: np.ndarray | None = None) -> pa.Table:
    """STATE_SCHEMA rows from each entity's stage entries ``ranks``/``at`` (entity i:
    ``offsets[i]:offsets[i + 1]``, in time order). Without ``current``, the current stage
    is the furthest (accounts)."""
    n = len(offsets) - 1
    names_arr = pa.array(names, pa.string())
    starts = offsets[:-1]
    furthest = np.maximum.reduceat(ranks, starts) if n else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(n), np.diff(offsets))
    first_at = np.where(ranks == furthest[owner], at, NEVER)
    furthest_at = np.minimum.reduceat(first_at, starts) if n else np.zeros(0, np.int64)
    if current is None or current_at is None:
        current, current_at = furthest, furthest_at
    bits = np.bitwise_or.reduceat(np.left_shift(1, ranks), starts) if n else np.zeros(0, np.int64)
    lut = {int(m): [names[k] for k in range(len(names)) if (int(m) >> k) & 1]
           for m in np.unique(bits)}
    return pa.table({
        "id": ids,
        "current_stage": names_arr.take(pa.array(current)),
        "stage_entered_at": pa.array(current_at, pa.int64()),
        "days_in_stage": pa.array((as_of - current_at) / DAY_US, pa.float64()),
        "furthest_stage": names_arr.take(pa.array(furthest)),
        "furthest_entered_at": pa.array(furthest_at, pa.int64()),
        "stages_reached": pa.array([lut[int(m)] for m in bits], pa.list_(pa.string())),
        "history": pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                            names_arr.take(pa.array(ranks))),
        "history_at": pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                               pa.array(at, pa.int64())),
        "persons": pa.array(persons, pa.int64()),
    }, schema=STATE_SCHEMA)


def summarize(spec: StateSpec, persons: pa.Table) -> StateResult:
    """Person or account states and the per-stage summary from the per-person rows."""
    names = list(spec.journey.stages)
    rank_of = {s: i for i, s in enumerate(names)}
    persons = persons.sort_by([("person", "ascending")])
    last = np.asarray(persons.column("last_at").to_numpy(), np.int64)
    as_of = (int(spec.as_of.timestamp() * US) if spec.as_of is not None
             else int(last.max()) if len(last) else 0)
    history = persons.column("history").combine_chunks()
    flat = history.flatten().to_pylist()
    ranks = np.array([rank_of[s] for s in flat], dtype=np.int64)
    at = np.asarray(persons.column("history_at").combine_chunks().flatten().to_numpy(),
                    np.int64)
    offsets = np.asarray(history.offsets.to_numpy(), np.int64)
    if spec.level == "person":
        n = persons.num_rows
        cur = np.array([rank_of[s] for s in persons.column("current").to_pylist()], np.int64)
        table = _entities(persons.column("person").combine_chunks(), ranks, at, offsets,
                          names, as_of, np.ones(n, np.int64), cur,
                          np.asarray(persons.column("entered_at").to_numpy(), np.int64))
    else:
        table = _accounts(persons, ranks, at, offsets, names, as_of)
    return StateResult(spec, _iso(as_of), _summary(names, table, as_of), table)


def _accounts(persons: pa.Table, ranks: np.ndarray, at: np.ndarray, offsets: np.ndarray,
              names: list[str], as_of: int) -> pa.Table:
    """Per account, per stage the first entry by any member, in time order."""
    owner = np.repeat(np.arange(persons.num_rows), np.diff(offsets))
    entries = pa.table({"account": persons.column("account").combine_chunks().take(
        pa.array(owner)), "rank": ranks, "at": at})
    entries = entries.filter(pc.is_valid(entries.column("account")))
    first = entries.group_by(["account", "rank"]).aggregate([("at", "min")]).sort_by(
        [("account", "ascending"), ("at_min", "ascending"), ("rank", "ascending")])
    members = persons.filter(pc.is_valid(persons.column("account"))).group_by(
        "account").aggregate([("person", "count")]).sort_by("account")
    acc = first.column("account").combine_chunks()
    starts = person_starts(acc)
    return _entities(acc.take(pa.array(starts[:-1])),
                     np.asarray(first.column("rank").to_numpy(), np.int64),
                     np.asarray(first.column("at_min").to_numpy(), np.int64), starts, names,
                     as_of, np.asarray(members.column("person_count").to_numpy(), np.int64))


def _summary(names: list[str], table: pa.Table, as_of: int) -> tuple[StageSummary, ...]:
    current = np.asarray(table.column("current_stage").to_pylist(), dtype=object)
    days = np.asarray(table.column("days_in_stage").to_numpy(), np.float64)
    reached_flat = table.column("stages_reached").combine_chunks().flatten().to_pylist()
    reached = {s: reached_flat.count(s) for s in names}
    out = []
    for stage in names:
        sel = current == stage
        out.append(StageSummary(stage, int(sel.sum()), reached[stage],
                                float(np.median(days[sel])) if sel.any() else None))
    del as_of
    return tuple(out)


def state(engine: Engine, spec: StateSpec) -> StateResult:
    """Journey state of every person (or account) on ``engine``."""
    extra = (("account", ACCOUNT),) if spec.level == "account" else ()
    prep = stages_mod.prepared(spec.stages_spec(), extra)
    return summarize(spec, engine.run(prep, kernel(spec), _person_schema(spec)))


def write_traits(ws: Workspace, project: str | None, result: StateResult) -> int:
    """Store the person states as computed profile traits (``current_stage``,
    ``stage_entered_at``, ``days_in_stage``, ``stages_reached``), source
    ``journeys:<journey>``; returns the profile rows written."""
    from cxlens.identity.profiles import write_computed_traits

    if result.spec.level != "person":
        raise SpecError("traits are written per person: use level 'person'", field="level")
    t = result.table
    traits = pa.table({
        "person_id": t.column("id"),
        "current_stage": t.column("current_stage"),
        "stage_entered_at": t.column("stage_entered_at").cast(pa.timestamp("us", tz="UTC")),
        "days_in_stage": pc.round(t.column("days_in_stage"), 4),
        "stages_reached": t.column("stages_reached"),
    })
    return write_computed_traits(ws, project, traits, f"journeys:{result.spec.journey.name}")


def spec_from_dict(doc: Mapping[str, Any], journey: JourneyDefinition | None) -> StateSpec:
    from cxlens.journeys.specs import optional_time

    if journey is None:
        raise SpecError("journey state needs a journey definition: name one in 'journey' "
                        "(cxlens journey init NAME --from b2c|b2b)", field="journey")
    level = str(doc.get("level", "person"))
    if level not in LEVELS:
        raise SpecError(f"level must be one of {list(LEVELS)}, got {level!r}", field="level")
    return StateSpec(journey, level,  # type: ignore[arg-type]
                     as_of=optional_time(doc.get("as_of"), "as_of"),
                     since=optional_time(doc.get("since"), "since"),
                     until=optional_time(doc.get("until"), "until"),
                     limit=int(doc.get("limit", 100)))
