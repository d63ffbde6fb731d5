"""Paths: the most frequent sequences of events from or to a point, and Sankey data.

Per person (PostHog's design, field notes): the events sorted by time are split into
sessions on a gap (or kept whole across sessions), consecutive repeats are collapsed,
the path is cut at the start point (``start``), the end point (``end``) or both, and
truncated to ``max_steps``. A page view's item is its path (``/warenkorb``), any other
event's item is its name. The kernel emits one row per path (person, items joined by
U+001F), which merges across partitions by concatenation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import TRUE, Coalesce, Col, Cond, Expr, IsNull, Json, Not
from cxlens.errors import SpecError
from cxlens.journeys.arrays import (
    distinct_persons,
    encode,
    int64_column,
    person_starts,
    sequence_hashes,
    sorted_unique,
)
from cxlens.journeys.breakdowns import by_value, person_attribute, split_kernel, split_schema
from cxlens.journeys.specs import check_period
from cxlens.journeys.steps import Match, check_events, match_from_dict, parse_match
from cxlens.journeys.touchpoints import JourneyDefinition

SEP = "\x1f"
US = 1_000_000
#: what a path step is called: the event's name, or for a page view its path
ITEM: Expr = Coalesce((Col("event"), Json("context", "page.path")))


@dataclass(frozen=True, slots=True)
class PathsSpec:
    start: Match | None = None
    end: Match | None = None
    max_steps: int = 5
    per_session: bool = True
    session_minutes: float = 30.0
    collapse_repeats: bool = True
    top: int = 20
    #: the Sankey keeps the most frequent links (PostHog shows 50)
    max_links: int = 50
    since: datetime | None = None
    until: datetime | None = None
    #: steps are this journey's touchpoints instead of event names / page paths
    journey: JourneyDefinition | None = None
    #: a person attribute (persona, account.industry, trait.<name>): paths per value
    breakdown: str | None = None

    def __post_init__(self) -> None:
        person_attribute(self.breakdown)
        check_period(self.since, self.until)
        if not isinstance(self.max_steps, int) or not 2 <= self.max_steps <= 50:
            raise SpecError(f"max_steps must be 2..50, got {self.max_steps!r}", field="max_steps")
        if not self.session_minutes > 0:
            raise SpecError("session_minutes must be positive", field="session_minutes")
        if not self.top > 0:
            raise SpecError("top must be positive", field="top")
        if not self.max_links > 0:
            raise SpecError("max_links must be positive", field="max_links")


@nb.njit(cache=True, nogil=True)
def _paths(starts: np.ndarray, ts: np.ndarray, code: np.ndarray, mask: np.ndarray,
           has_start: bool, has_end: bool, max_steps: int, gap: int, per_session: bool,
           collapse: bool, out_person: np.ndarray, out_offsets: np.ndarray,
           out_codes: np.ndarray) -> int:
    n_rows = ts.shape[0]
    buf = np.empty(n_rows, dtype=np.int32)
    bmask = np.empty(n_rows, dtype=np.int64)
    npaths = 0
    nitems = 0
    out_offsets[0] = 0
    for p in range(starts.shape[0] - 1):
        s = starts[p]
        end = starts[p + 1]
        while s < end:
            e = s + 1
            if per_session:
                while e < end and ts[e] - ts[e - 1] <= gap:
                    e += 1
            else:
                e = end
            # collapse consecutive repeats into buf
            m = 0
            for i in range(s, e):
                if collapse and m > 0 and buf[m - 1] == code[i]:
                    bmask[m - 1] |= mask[i]
                    continue
                buf[m] = code[i]
                bmask[m] = mask[i]
                m += 1
            s = e
            a = 0
            if has_start:
                a = -1
                for i in range(m):
                    if bmask[i] & 1:
                        a = i
                        break
                if a < 0:
                    continue
            b = min(m, a + max_steps) - 1
            if has_end:
                b = -1
                for i in range(a, m):
                    if bmask[i] & 2:
                        b = i
                        break
                if b < 0:
                    continue
                if not has_start:
                    a = max(0, b - max_steps + 1)
            count = b - a + 1
            out_person[npaths] = p
            if count > max_steps:  # start and end both fixed: keep both ends
                for i in range(max_steps - 1):
                    out_codes[nitems] = buf[a + i]
                    nitems += 1
                out_codes[nitems] = buf[b]
                nitems += 1
            else:
                for i in range(a, b + 1):
                    out_codes[nitems] = buf[i]
                    nitems += 1
            npaths += 1
            out_offsets[npaths] = nitems
    return npaths


def _prepared(spec: PathsSpec) -> Prepared:
    flags: list[Cond] = [spec.start.cond() if spec.start else TRUE,
                         spec.end.cond() if spec.end else TRUE]
    item = spec.journey.touchpoint_expr() if spec.journey else ITEM
    strings: tuple[tuple[str, Expr], ...] = (("item", item),)
    if (attr := person_attribute(spec.breakdown)) is not None:
        strings += (("dim", attr),)
    return Prepared(where=Not(IsNull(item)), flags=tuple(flags), strings=strings,
                    since=spec.since, until=spec.until)


#: rows of four kinds, each mergeable by summing counts and persons (a person never spans
#: partitions): "path" (key = items joined by U+001F), "link" (key = source node,
#: target = target node), "node" (key = "<position>:<item>") and one "persons" row
PATH_SCHEMA = pa.schema([("kind", pa.string()), ("key", pa.string()),
                         ("target", pa.string()), ("count", pa.int64()),
                         ("persons", pa.int64())])



def kernel(spec: PathsSpec) -> Any:
    gap = int(spec.session_minutes * 60 * US)

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        codes, dictionary = encode(table.column("item"))
        mask = int64_column(table, "mask")
        n = len(ts)
        out_person = np.empty(n, dtype=np.int64)
        out_offsets = np.empty(n + 1, dtype=np.int64)
        out_codes = np.empty(n, dtype=np.int32)
        k = _paths(starts, ts, codes, mask, spec.start is not None, spec.end is not None,
                   spec.max_steps, gap, spec.per_session, spec.collapse_repeats,
                   out_person, out_offsets, out_codes)
        offsets = out_offsets[: k + 1]
        items = out_codes[: offsets[-1]]
        person = out_person[:k]
        nd = max(len(dictionary), 1)
        # distinct paths by hash; strings only for one representative each
        _, inv = sorted_unique(sequence_hashes(offsets, items))
        count = np.bincount(inv, minlength=int(inv.max()) + 1 if k else 0).astype(np.int64)
        rep = np.full(len(count), k, dtype=np.int64)
        np.minimum.at(rep, inv, np.arange(k))  # first path of each kind: its representative
        lengths = np.diff(offsets)
        rep_len = lengths[rep]
        ends = np.cumsum(rep_len)
        take = np.repeat(offsets[rep] - (ends - rep_len), rep_len) + np.arange(
            int(ends[-1]) if len(ends) else 0)
        lists = pa.ListArray.from_arrays(pa.array(np.concatenate(([0], ends)).astype(np.int32)),
                                         dictionary.take(pa.array(items[take])))
        path_keys = pc.binary_join(lists, SEP)
        path_persons = distinct_persons(inv, person, len(rep))
        # positions of every item within its path
        owner = np.repeat(np.arange(k), lengths)
        pos = np.arange(len(items)) - np.repeat(offsets[:-1], lengths)
        node = pos.astype(np.int64) * nd + items
        # node keys are dense (position * items + item): count without sorting
        node_count = np.bincount(node, minlength=spec.max_steps * nd)
        nodes = np.flatnonzero(node_count)
        remap = np.full(spec.max_steps * nd, -1, dtype=np.int64)
        remap[nodes] = np.arange(len(nodes))
        node_inv = remap[node]
        node_persons = distinct_persons(node_inv, person[owner], len(nodes))
        node_ids = pc.binary_join_element_wise(
            pa.array((nodes // nd).astype(str)), dictionary.take(pa.array(nodes % nd)), ":")
        has_next = np.ones(len(items), dtype=bool)
        has_next[offsets[1:] - 1] = False
        src = np.flatnonzero(has_next)
        link = node_inv[src].astype(np.int64) * len(nodes) + node_inv[src + 1]
        links, link_inv = sorted_unique(link)
        link_count = np.bincount(link_inv, minlength=len(links)).astype(np.int64)
        link_persons = distinct_persons(link_inv, person[owner[src]], len(links))
        total = int((np.diff(person) != 0).sum()) + 1 if k else 0
        nl, nn, npth = len(links), len(nodes), len(rep)
        return pa.table({
            "kind": pa.array(["path"] * npth + ["link"] * nl + ["node"] * nn + ["persons"]),
            "key": pa.concat_arrays([path_keys, node_ids.take(pa.array(links // max(nn, 1))),
                                     node_ids, pa.nulls(1, pa.string())]),
            "target": pa.concat_arrays([pa.nulls(npth, pa.string()),
                                        node_ids.take(pa.array(links % max(nn, 1))),
                                        pa.nulls(nn + 1, pa.string())]),
            "count": pa.array(np.concatenate([count, link_count, np.zeros(nn, np.int64),
                                              [k]]).astype(np.int64)),
            "persons": pa.array(np.concatenate([path_persons, link_persons, node_persons,
                                                [total]]).astype(np.int64)),
        }, schema=PATH_SCHEMA)

    return run


@dataclass(frozen=True, slots=True)
class PathRow:
    steps: tuple[str, ...]
    count: int  # paths (sessions or persons)
    persons: int
    share_of_persons: float


@dataclass(frozen=True, slots=True)
class SankeyNode:
    id: str  # "<step>:<item>"
    step: int
    item: str
    persons: int


@dataclass(frozen=True, slots=True)
class SankeyLink:
    source: str
    target: str
    count: int
    persons: int
    share_of_persons: float


@dataclass(frozen=True, slots=True)
class PathsResult:
    spec: PathsSpec
    persons: int  # persons with at least one path
    paths: int
    top: tuple[PathRow, ...]
    nodes: tuple[SankeyNode, ...]
    links: tuple[SankeyLink, ...]
    #: the same result per value of ``spec.breakdown``
    breakdown: dict[str, PathsResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = self._doc()
        if self.spec.breakdown is not None:
            out["breakdown"] = {v: r._doc() for v, r in self.breakdown.items()}
        return out

    def _doc(self) -> dict[str, Any]:
        return {
            "persons": self.persons, "paths": self.paths,
            "top": [{"steps": list(r.steps), "count": r.count, "persons": r.persons,
                     "share_of_persons": r.share_of_persons} for r in self.top],
            "sankey": {
                "nodes": [{"id": n.id, "step": n.step, "item": n.item, "persons": n.persons}
                          for n in self.nodes],
                "links": [{"source": li.source, "target": li.target, "count": li.count,
                           "persons": li.persons, "share_of_persons": li.share_of_persons}
                          for li in self.links],
            },
        }


def summarize(spec: PathsSpec, rows: pa.Table) -> PathsResult:
    def part(kind: str, keys: list[str]) -> pa.Table:
        t = rows.filter(pc.equal(rows.column("kind"), kind))
        return t.group_by(keys).aggregate([("count", "sum"), ("persons", "sum")])

    totals = part("persons", ["kind"])
    total_persons = int(totals.column("persons_sum")[0].as_py()) if totals.num_rows else 0
    n_paths = int(totals.column("count_sum")[0].as_py()) if totals.num_rows else 0
    share = (lambda k: k / total_persons) if total_persons else (lambda k: 0.0)
    by_path = part("path", ["key"]).sort_by([("count_sum", "descending"), ("key", "ascending")])
    by_path = by_path.slice(0, spec.top)
    top = tuple(PathRow(tuple(p.split(SEP)), int(c), int(d), share(d)) for p, c, d in zip(
        *(by_path.column(x).to_pylist() for x in ("key", "count_sum", "persons_sum")),
        strict=True))
    nodes = part("node", ["key"])
    node_list = sorted(
        (SankeyNode(i, int(i.split(":", 1)[0]) + 1, i.split(":", 1)[1], int(c)) for i, c in zip(
            nodes.column("key").to_pylist(), nodes.column("persons_sum").to_pylist(),
            strict=True)), key=lambda nd: (nd.step, -nd.persons, nd.item))
    links = part("link", ["key", "target"]).sort_by(
        [("count_sum", "descending"), ("key", "ascending"), ("target", "ascending")])
    links = links.slice(0, spec.max_links)
    link_list = tuple(SankeyLink(s, t, int(c), int(d), share(d)) for s, t, c, d in zip(
        *(links.column(x).to_pylist() for x in ("key", "target", "count_sum", "persons_sum")),
        strict=True))
    return PathsResult(spec, total_persons, n_paths, top, tuple(node_list), link_list)


def paths(engine: Engine, spec: PathsSpec, *, check: bool = True) -> PathsResult:
    if check:
        known = set(engine.distinct(Col("event")))
        check_events(known, [(f, m) for f, m in (("start", spec.start), ("end", spec.end))
                             if m is not None])
    if spec.breakdown is None:
        return summarize(spec, engine.run(_prepared(spec), kernel(spec), PATH_SCHEMA))
    rows = engine.run(_prepared(spec), split_kernel(kernel(spec), PATH_SCHEMA),
                      split_schema(PATH_SCHEMA))
    parts = {v: summarize(spec, t) for v, t in by_value(rows).items()}
    return replace(summarize(spec, rows), breakdown=parts)


def spec_from_dict(doc: Mapping[str, Any],
                   journey: JourneyDefinition | None = None) -> PathsSpec:
    from cxlens.journeys.specs import duration_seconds, optional_time

    def match(key: str) -> Match | None:
        raw = doc.get(key)
        if raw is None:
            return None
        if isinstance(raw, str) and journey is not None:
            for t in journey.touchpoints:
                if t.name == raw:  # with a journey, a name is a touchpoint first
                    return Match(None, (), (t.name, t.cond()))
        if isinstance(raw, str):
            return parse_match(raw)
        if isinstance(raw, Mapping):
            return match_from_dict(raw, key)
        raise SpecError(f"{key} is an event name or {{event, where}}", field=key)

    session = doc.get("session", "30m")
    return PathsSpec(
        start=match("start"), end=match("end"),
        max_steps=int(doc.get("max_steps", 5)),
        per_session=bool(doc.get("per_session", True)),
        session_minutes=duration_seconds(session, "session") / 60,
        collapse_repeats=bool(doc.get("collapse_repeats", True)),
        top=int(doc.get("top", 20)), max_links=int(doc.get("max_links", 50)),
        since=optional_time(doc.get("since"), "since"),
        until=optional_time(doc.get("until"), "until"), journey=journey,
        breakdown=doc.get("breakdown"),
    )
