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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import IsNull, Not
from cxlens.errors import SpecError
from cxlens.journeys.arrays import encode, int64_column, person_starts
from cxlens.journeys.paths import ITEM
from cxlens.journeys.steps import Filter, field_expr

SEP = "\x1f"
US = 1_000_000


@dataclass(frozen=True, slots=True)
class GraphSpec:
    #: a segment: only events passing these filters (e.g. channel = email)
    where: tuple[Filter, ...] = ()
    per_session: bool = False
    session_minutes: float = 30.0
    top_variants: int = 20
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
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


def dfg_arrays(trace_starts: np.ndarray, codes: np.ndarray, ts: np.ndarray,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, dt, trace index) of every directly-follows pair, vectorised in NumPy."""
    n = len(codes)
    follows = np.ones(max(n - 1, 0), dtype=bool)
    inner = trace_starts[1:-1]
    follows[inner[(inner > 0) & (inner < n)] - 1] = False
    idx = np.flatnonzero(follows)
    trace_of = np.repeat(np.arange(len(trace_starts) - 1), np.diff(trace_starts))
    return codes[idx], codes[idx + 1], ts[idx + 1] - ts[idx], trace_of[idx]


EDGE_SCHEMA = pa.schema([("source", pa.string()), ("target", pa.string()),
                         ("count", pa.int64()), ("persons", pa.int64()),
                         ("seconds", pa.list_(pa.int64()))])
TRACE_SCHEMA = pa.schema([("person", pa.string()), ("variant", pa.string())])
OUT_SCHEMA = pa.schema([("kind", pa.string()), ("person", pa.string()),
                        ("variant", pa.string()), ("source", pa.string()),
                        ("target", pa.string()), ("count", pa.int64()),
                        ("persons", pa.int64()), ("seconds", pa.list_(pa.int64()))])


def kernel(spec: GraphSpec) -> Any:
    gap = int(spec.session_minutes * 60 * US)

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        codes, dictionary = encode(table.column("item"))
        trace_starts = np.empty(len(ts) + 1, dtype=np.int64)
        k = _traces(starts, ts, spec.per_session, gap, trace_starts)
        trace_starts = trace_starts[: k + 1]
        a, b, dt, trace = dfg_arrays(trace_starts, codes, ts)
        # persons of each trace: the person run that holds the trace's first row
        person_of_trace = np.searchsorted(starts, trace_starts[:-1], side="right") - 1
        pair = a.astype(np.int64) * len(dictionary) + b
        order = np.lexsort((dt, pair))
        pair, dt, who = pair[order], dt[order], person_of_trace[trace[order]]
        uniq, first = np.unique(pair, return_index=True)
        bounds = np.append(first, len(pair))
        counts = np.diff(bounds)
        persons = np.array([len(np.unique(who[bounds[i]:bounds[i + 1]]))
                            for i in range(len(uniq))], dtype=np.int64)
        seconds = pa.ListArray.from_arrays(pa.array(bounds.astype(np.int32)), pa.array(dt))
        src = dictionary.take(pa.array(uniq // max(len(dictionary), 1)))
        dst = dictionary.take(pa.array(uniq % max(len(dictionary), 1)))
        lists = pa.ListArray.from_arrays(pa.array(trace_starts.astype(np.int32)),
                                         dictionary.take(pa.array(codes)))
        variants = pc.binary_join(lists, SEP)
        tperson = table.column("person").take(pa.array(starts[person_of_trace]))
        ne, nt = len(uniq), k
        return pa.table({
            "kind": pa.array(["edge"] * ne + ["trace"] * nt, pa.string()),
            "person": pa.concat_arrays([pa.nulls(ne, pa.string()),
                                        tperson.combine_chunks() if isinstance(
                                            tperson, pa.ChunkedArray) else tperson]),
            "variant": pa.concat_arrays([pa.nulls(ne, pa.string()), variants]),
            "source": pa.concat_arrays([src, pa.nulls(nt, pa.string())]),
            "target": pa.concat_arrays([dst, pa.nulls(nt, pa.string())]),
            "count": pa.array(np.concatenate([counts, np.zeros(nt, np.int64)])),
            "persons": pa.array(np.concatenate([persons, np.zeros(nt, np.int64)])),
            "seconds": pa.concat_arrays([seconds, pa.nulls(nt, pa.list_(pa.int64()))]),
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
    #: every variant with its count (for conformance)
    all_variants: dict[tuple[str, ...], int]

    def dfg(self) -> dict[tuple[str, str], int]:
        return {(e.source, e.target): e.count for e in self.edges}

    def to_dict(self) -> dict[str, Any]:
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
    conds = [Not(IsNull(ITEM))] + [f.cond() for f in spec.where]
    from cxlens.engines.expr import And

    return Prepared(where=And(tuple(conds)), strings=(("item", ITEM),), since=spec.since,
                    until=spec.until)


def summarize(spec: GraphSpec, out: pa.Table) -> GraphResult:
    kinds = out.column("kind")
    edges_t = out.filter(pc.equal(kinds, "edge"))
    traces_t = out.filter(pc.equal(kinds, "trace"))
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
    variants_count = traces_t.group_by("variant").aggregate([("variant", "count")])
    all_variants = {tuple(v.split(SEP)): int(c) for v, c in zip(
        variants_count.column("variant").to_pylist(),
        variants_count.column("variant_count").to_pylist(), strict=True)}
    n = traces_t.num_rows
    ranked = sorted(all_variants.items(), key=lambda kv: (-kv[1], kv[0]))
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for steps, c in all_variants.items():
        starts[steps[0]] = starts.get(steps[0], 0) + c
        ends[steps[-1]] = ends.get(steps[-1], 0) + c
    return GraphResult(
        spec, n, tuple(edges), dict(sorted(starts.items())), dict(sorted(ends.items())),
        tuple(Variant(s, c, c / n) for s, c in ranked[: spec.top_variants]), all_variants)


def graph(engine: Engine, spec: GraphSpec) -> GraphResult:
    return summarize(spec, engine.run(_prepared(spec), kernel(spec), OUT_SCHEMA))


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

    def to_dict(self) -> dict[str, Any]:
        return {"designed": list(self.designed), "traces": self.traces,
                "conforming": self.conforming, "share": self.share,
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


def conformance(result: GraphResult, designed: Sequence[str]) -> Conformance:
    """Share of traces that follow ``designed`` and where the others deviate."""
    if len(designed) < 2:
        raise SpecError("a designed journey needs at least two steps", field="designed")
    counts: dict[tuple[str, str], int] = {}
    ok = 0
    for trace, c in result.all_variants.items():
        dev = _first_deviation(trace, designed)
        if dev is None:
            ok += c
        else:
            counts[dev] = counts.get(dev, 0) + c
    devs = tuple(Deviation(k, at, c) for (k, at), c in
                 sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return Conformance(tuple(designed), result.traces, ok,
                       ok / result.traces if result.traces else 0.0, devs)


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


def spec_from_dict(doc: Mapping[str, Any]) -> GraphSpec:
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
        until=optional_time(doc.get("until"), "until"))
