"""Journey graph (process mining): directly-follows graph, variants, conformance, export.

A case is a person (or a person's session with ``per_session``); its events sorted by
time are the trace, as in pm4py. The kernel walks each partition's traces once and
emits per directly-follows pair (a, b) its count, the persons who made it and every
transition time (so medians and p90 are exact after merging partitions), plus one row
per trace with its variant (items joined by U+001F) for variants and conformance.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import Col, Expr, IsNull, Not
from cxlens.errors import SpecError
from cxlens.journeys.arrays import encode, int64_column, person_starts, sequence_hashes
from cxlens.journeys.breakdowns import by_value, person_attribute, split_kernel, split_schema
from cxlens.journeys.paths import ITEM
from cxlens.journeys.specs import check_period
from cxlens.journeys.steps import Filter, Match, check_events, field_expr
from cxlens.journeys.touchpoints import JourneyDefinition

SEP = "\x1f"
US = 1_000_000


@dataclass(frozen=True, slots=True)
class GraphSpec:
    #: a segment: only events passing these filters (e.g. channel = email)
    where: tuple[Filter, ...] = ()
    per_session: bool = False
    session_minutes: float = 30.0
    top_variants: int = 20
    #: variants cost one string per distinct trace; off when only the DFG is wanted
    variants: bool = True
    since: datetime | None = None
    until: datetime | None = None
    #: steps are this journey's touchpoints instead of event names / page paths
    journey: JourneyDefinition | None = None
    #: a person attribute (persona, account.industry, trait.<name>): a graph per value
    breakdown: str | None = None

    def __post_init__(self) -> None:
        person_attribute(self.breakdown)
        check_period(self.since, self.until)
        if not self.session_minutes > 0:
            raise SpecError("session_minutes must be positive", field="session_minutes")
        if not self.top_variants > 0:
            raise SpecError("top_variants must be positive", field="top_variants")


@nb.njit(cache=True, nogil=True)
def _traces(starts: np.ndarray, ts: np.ndarray, per_session: bool, gap: int,
            trace_starts: np.ndarray) -> int:
    """Offsets of the traces (persons, or sessions within persons)."""
    k = 0
    for p in range(starts.shape[0] - 1):
        trace_starts[k] = starts[p]
        k += 1
        if per_session:
            for i in range(starts[p] + 1, starts[p + 1]):
                if ts[i] - ts[i - 1] > gap:
                    trace_starts[k] = i
                    k += 1
    trace_starts[k] = starts[starts.shape[0] - 1]
    return k


@nb.njit(cache=True, nogil=True)
def _dfg(trace_starts: np.ndarray, trace_person: np.ndarray, codes: np.ndarray,
         k: int, counts: np.ndarray, persons: np.ndarray, last_person: np.ndarray) -> None:
    """Count each directly-follows pair (dense index a * k + b) and its distinct persons."""
    for t in range(trace_starts.shape[0] - 1):
        p = trace_person[t]
        for i in range(trace_starts[t] + 1, trace_starts[t + 1]):
            pair = codes[i - 1] * k + codes[i]
            counts[pair] += 1
            if last_person[pair] != p:  # traces come person by person
                persons[pair] += 1
                last_person[pair] = p


@nb.njit(cache=True, nogil=True)
def _scatter_seconds(trace_starts: np.ndarray, codes: np.ndarray, ts: np.ndarray, k: int,
                     offsets: np.ndarray, out: np.ndarray) -> None:
    """Transition times grouped by pair (a counting sort: no O(n log n) sort needed)."""
    pos = offsets.copy()
    for t in range(trace_starts.shape[0] - 1):
        for i in range(trace_starts[t] + 1, trace_starts[t + 1]):
            pair = codes[i - 1] * k + codes[i]
            out[pos[pair]] = ts[i] - ts[i - 1]
            pos[pair] += 1



#: rows of three kinds, all mergeable by summing: "edge" (source, target, count, persons,
#: seconds), "variant" (variant, count) and one "traces" row (count)
OUT_SCHEMA = pa.schema([("kind", pa.string()), ("variant", pa.string()),
                        ("source", pa.string()), ("target", pa.string()),
                        ("count", pa.int64()), ("persons", pa.int64()),
                        ("seconds", pa.list_(pa.int64()))])


def kernel(spec: GraphSpec) -> Any:
    gap = int(spec.session_minutes * 60 * US)

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        codes, dictionary = encode(table.column("item"))
        trace_starts = np.empty(len(ts) + 1, dtype=np.int64)
        nt = _traces(starts, ts, spec.per_session, gap, trace_starts)
        trace_starts = trace_starts[: nt + 1]
        trace_person = np.searchsorted(starts, trace_starts[:-1], side="right") - 1
        k = max(len(dictionary), 1)
        if k * k > 50_000_000:
            raise SpecError(f"{k:,} distinct steps are too many for one graph; filter the "
                            "events (where) first", field="where")
        counts = np.zeros(k * k, dtype=np.int64)
        persons = np.zeros(k * k, dtype=np.int64)
        _dfg(trace_starts, trace_person, codes, k, counts, persons,
             np.full(k * k, -1, dtype=np.int64))
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        seconds = np.empty(int(counts.sum()), dtype=np.int64)
        _scatter_seconds(trace_starts, codes, ts, k, offsets, seconds)
        used = np.flatnonzero(counts)
        ne = len(used)
        list_offsets = np.append(offsets[used], len(seconds)).astype(np.int32)
        seconds_col = pa.ListArray.from_arrays(pa.array(list_offsets), pa.array(seconds))
        src = dictionary.take(pa.array(used // k)) if ne else pa.array([], pa.string())
        dst = dictionary.take(pa.array(used % k)) if ne else pa.array([], pa.string())
        if spec.variants and nt:
            hashes = sequence_hashes(trace_starts, codes)
            _, rep, vcount = np.unique(hashes, return_index=True, return_counts=True)
            lengths = np.diff(trace_starts)[rep]
            ends = np.cumsum(lengths)
            take = np.repeat(trace_starts[rep] - (ends - lengths), lengths) + np.arange(
                int(ends[-1]))
            lists = pa.ListArray.from_arrays(
                pa.array(np.concatenate(([0], ends)).astype(np.int32)),
                dictionary.take(pa.array(codes[take])))
            variants = pc.binary_join(lists, SEP)
        else:
            variants, vcount = pa.array([], pa.string()), np.zeros(0, np.int64)
        nv = len(variants)
        return pa.table({
            "kind": pa.array(["edge"] * ne + ["variant"] * nv + ["traces"], pa.string()),
            "variant": pa.concat_arrays([pa.nulls(ne, pa.string()), variants,
                                         pa.nulls(1, pa.string())]),
            "source": pa.concat_arrays([src, pa.nulls(nv + 1, pa.string())]),
            "target": pa.concat_arrays([dst, pa.nulls(nv + 1, pa.string())]),
            "count": pa.array(np.concatenate([counts[used], vcount, [nt]]).astype(np.int64)),
            "persons": pa.array(np.concatenate([persons[used], np.zeros(nv + 1, np.int64)])),
            "seconds": pa.concat_arrays([seconds_col, pa.nulls(nv + 1, pa.list_(pa.int64()))]),
        }, schema=OUT_SCHEMA)

    return run


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    count: int
    persons: int
    median_seconds: float
    p90_seconds: float


@dataclass(frozen=True, slots=True)
class Variant:
    steps: tuple[str, ...]
    count: int
    share: float


@dataclass(frozen=True, slots=True)
class GraphResult:
    spec: GraphSpec
    traces: int
    edges: tuple[Edge, ...]
    start_items: dict[str, int]
    end_items: dict[str, int]
    variants: tuple[Variant, ...]
    #: every variant (steps joined by U+001F) with its count, most frequent first
    variant_counts: dict[str, int]
    #: the same result per value of ``spec.breakdown``
    breakdown: dict[str, GraphResult] = field(default_factory=dict)

    def dfg(self) -> dict[tuple[str, str], int]:
        return {(e.source, e.target): e.count for e in self.edges}

    def to_dict(self) -> dict[str, Any]:
        out = self._doc()
        if self.spec.breakdown is not None:
            out["breakdown"] = {v: r._doc() for v, r in self.breakdown.items()}
        return out

    def _doc(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "edges": [{"source": e.source, "target": e.target, "count": e.count,
                       "persons": e.persons, "median_seconds": e.median_seconds,
                       "p90_seconds": e.p90_seconds} for e in self.edges],
            "start": self.start_items, "end": self.end_items,
            "variants": [{"steps": list(v.steps), "count": v.count, "share": v.share}
                         for v in self.variants],
        }


def _prepared(spec: GraphSpec) -> Prepared:
    from cxlens.engines.expr import And

    item = spec.journey.touchpoint_expr() if spec.journey else ITEM
    conds = [Not(IsNull(item))] + [f.cond() for f in spec.where]
    strings: tuple[tuple[str, Expr], ...] = (("item", item),)
    if (attr := person_attribute(spec.breakdown)) is not None:
        strings += (("dim", attr),)
    return Prepared(where=And(tuple(conds)), strings=strings, since=spec.since,
                    until=spec.until)


def summarize(spec: GraphSpec, out: pa.Table) -> GraphResult:
    kinds = out.column("kind")
    edges_t = out.filter(pc.equal(kinds, "edge"))
    variants_t = out.filter(pc.equal(kinds, "variant"))
    n = int(pc.sum(out.filter(pc.equal(kinds, "traces")).column("count")).as_py() or 0)
    edges: list[Edge] = []
    if edges_t.num_rows:
        secs = edges_t.column("seconds").combine_chunks()
        offsets = np.asarray(secs.offsets.to_numpy(), dtype=np.int64)
        flat = np.asarray(secs.values.to_numpy(), dtype=np.int64)
        acc: dict[tuple[str, str], list[Any]] = {}
        for i, (s, t, c, p) in enumerate(zip(*(edges_t.column(x).to_pylist() for x in (
                "source", "target", "count", "persons")), strict=True)):
            slot = acc.setdefault((s, t), [0, 0, []])
            slot[0] += c
            slot[1] += p
            slot[2].append(flat[offsets[i]:offsets[i + 1]])
        for (s, t), (c, p, parts) in acc.items():
            values = np.concatenate(parts)
            edges.append(Edge(s, t, int(c), int(p), float(np.median(values)) / US,
                              float(np.quantile(values, 0.9)) / US))
    edges.sort(key=lambda e: (-e.count, e.source, e.target))
    grouped = variants_t.group_by("variant").aggregate([("count", "sum")]).sort_by(
        [("count_sum", "descending"), ("variant", "ascending")])
    keys: list[str] = grouped.column("variant").to_pylist()
    counts: list[int] = grouped.column("count_sum").to_pylist()
    variant_counts = dict(zip(keys, counts, strict=True))
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for key, c in variant_counts.items():
        first, _, _ = key.partition(SEP)
        last = key.rpartition(SEP)[2]
        starts[first] = starts.get(first, 0) + c
        ends[last] = ends.get(last, 0) + c
    top = tuple(Variant(tuple(k.split(SEP)), c, c / n if n else 0.0)
                for k, c in zip(keys[: spec.top_variants], counts[: spec.top_variants],
                                strict=True))
    return GraphResult(spec, n, tuple(edges), dict(sorted(starts.items())),
                       dict(sorted(ends.items())), top, variant_counts)


def graph(engine: Engine, spec: GraphSpec, *, check: bool = True) -> GraphResult:
    named = [(f"where[{i}]", v) for i, f in enumerate(spec.where) if f.field == "event"
             and f.op in ("=", "in")
             for v in (f.value if isinstance(f.value, tuple) else (f.value,))]
    if check and named:
        known = set(engine.distinct(Col("event")))
        check_events(known, [(at, Match(str(v))) for at, v in named])
    if spec.breakdown is None:
        return summarize(spec, engine.run(_prepared(spec), kernel(spec), OUT_SCHEMA))
    rows = engine.run(_prepared(spec), split_kernel(kernel(spec), OUT_SCHEMA),
                      split_schema(OUT_SCHEMA))
    parts = {v: summarize(spec, t) for v, t in by_value(rows).items()}
    return replace(summarize(spec, rows), breakdown=parts)


# -- conformance ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Deviation:
    kind: str  # "skipped", "out_of_order", "incomplete"
    at: str  # the designed step concerned
    traces: int


@dataclass(frozen=True, slots=True)
class Conformance:
    designed: tuple[str, ...]
    traces: int
    conforming: int
    share: float
    deviations: tuple[Deviation, ...]
    #: traces without a deviation so far (conforming, or stopped before the end)
    on_track: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"designed": list(self.designed), "traces": self.traces,
                "conforming": self.conforming, "share": self.share, "on_track": self.on_track,
                "deviations": [{"kind": d.kind, "at": d.at, "traces": d.traces}
                               for d in self.deviations]}


def _first_deviation(trace: Sequence[str], designed: Sequence[str]) -> tuple[str, str] | None:
    """None when the trace's designed steps come in the designed order, without skipping
    one and through to the end; otherwise (kind, step) of the first deviation. Events that
    are not part of the design are ignored."""
    index = {s: i for i, s in enumerate(designed)}
    expected = 0
    for item in trace:
        i = index.get(item)
        if i is None:
            continue
        if i == expected:
            expected += 1
        elif i > expected:
            return "skipped", designed[expected]
        elif i < expected - 1:
            return "out_of_order", item
        # i == expected - 1: a repeat of the current step is fine
    if expected < len(designed):
        return "incomplete", designed[expected]
    return None


def items(result: GraphResult) -> set[str]:
    """Every step (event, page path or touchpoint) that occurs in some trace."""
    found = set(result.start_items) | set(result.end_items)
    for e in result.edges:
        found |= {e.source, e.target}
    return found


def conformance(result: GraphResult, designed: Sequence[str]) -> Conformance:
    """Share of traces that follow ``designed`` and where the others deviate."""
    if len(designed) < 2:
        raise SpecError("a designed journey needs at least two steps", field="designed")
    counts: dict[tuple[str, str], int] = {}
    ok = 0
    for key, c in result.variant_counts.items():
        dev = _first_deviation(key.split(SEP), designed)
        if dev is None:
            ok += c
        else:
            counts[dev] = counts.get(dev, 0) + c
    devs = tuple(Deviation(k, at, c) for (k, at), c in
                 sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    stopped = sum(d.traces for d in devs if d.kind == "incomplete")
    return Conformance(tuple(designed), result.traces, ok,
                       ok / result.traces if result.traces else 0.0, devs, ok + stopped)


# -- export -----------------------------------------------------------------------------
def event_log(engine: Engine, spec: GraphSpec) -> pa.Table:
    """The traces as an event log: case, activity, timestamp (µs), sorted."""
    def run(table: pa.Table) -> pa.Table:
        return pa.table({"case": table.column("person"), "activity": table.column("item"),
                         "ts": table.column("ts")})

    schema = pa.schema([("case", pa.string()), ("activity", pa.string()), ("ts", pa.int64())])
    log = engine.run(_prepared(spec), run, schema)
    return log.sort_by([("case", "ascending"), ("ts", "ascending")])


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / US, tz=UTC).isoformat()


def write_csv(log: pa.Table, path: Path) -> None:
    """pm4py's column names: case:concept:name, concept:name, time:timestamp."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case:concept:name", "concept:name", "time:timestamp"])
        for c, a, t in zip(*(log.column(x).to_pylist() for x in ("case", "activity", "ts")),
                           strict=True):
            w.writerow([c, a, _iso(t)])


def write_xes(log: pa.Table, path: Path) -> None:
    """IEEE XES 1849-2016, one trace per case (gzip when the name ends in .gz)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'
                 '<extension name="Concept" prefix="concept" '
                 'uri="http://www.xes-standard.org/concept.xesext"/>\n'
                 '<extension name="Time" prefix="time" '
                 'uri="http://www.xes-standard.org/time.xesext"/>\n')
        current: str | None = None
        for c, a, t in zip(*(log.column(x).to_pylist() for x in ("case", "activity", "ts")),
                           strict=True):
            if c != current:
                if current is not None:
                    fh.write("</trace>\n")
                fh.write(f'<trace><string key="concept:name" value={quoteattr(c)}/>\n')
                current = c
            fh.write(f'<event><string key="concept:name" value={quoteattr(a)}/>'
                     f'<date key="time:timestamp" value="{_iso(t)}"/></event>\n')
        if current is not None:
            fh.write("</trace>\n")
        fh.write("</log>\n")


def spec_from_dict(doc: Mapping[str, Any],
                   journey: JourneyDefinition | None = None) -> GraphSpec:
    from cxlens.journeys.specs import duration_seconds, optional_time
    from cxlens.journeys.steps import parse_filter

    raw = doc.get("where", [])
    filters: list[Filter] = []
    if isinstance(raw, Mapping):
        filters = [Filter(str(k), "=", v) for k, v in raw.items()]
    elif isinstance(raw, list):
        filters = [parse_filter(x) if isinstance(x, str) else Filter(
            str(x["field"]), str(x.get("op", "=")), x.get("value")) for x in raw]
    else:
        raise SpecError("where must be a list or a mapping", field="where")
    for f in filters:
        field_expr(f.field)
    return GraphSpec(
        where=tuple(filters), per_session=bool(doc.get("per_session", False)),
        session_minutes=duration_seconds(doc.get("session", "30m"), "session") / 60,
        top_variants=int(doc.get("top_variants", 20)),
        since=optional_time(doc.get("since"), "since"),
        until=optional_time(doc.get("until"), "until"), journey=journey,
        breakdown=doc.get("breakdown"))
