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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Engine, Prepared
from cxlens.engines.expr import TRUE, Coalesce, Col, Cond, Expr, IsNull, Json, Not
from cxlens.errors import SpecError
from cxlens.journeys.arrays import encode, int64_column, person_starts
from cxlens.journeys.steps import Match, check_events, match_from_dict, parse_match

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

    def __post_init__(self) -> None:
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
    return Prepared(where=Not(IsNull(ITEM)), flags=tuple(flags), strings=(("item", ITEM),),
                    since=spec.since, until=spec.until)


PATH_SCHEMA = pa.schema([("person", pa.string()), ("path", pa.string())])


def kernel(spec: PathsSpec) -> Any:
    gap = int(spec.session_minutes * 60 * US)

    def run(table: pa.Table) -> pa.Table:
        starts = person_starts(table.column("person"))
        ts = int64_column(table, "ts")
        codes, dictionary = encode(table.column("item"))
        mask = int64_column(table, "mask")
        n = len(ts)
        out_person = np.empty(n, dtype=np.int64)
        out_offsets = np.empty(n + 1, dtype=np.int32)
        out_codes = np.empty(n, dtype=np.int32)
        k = _paths(starts, ts, codes, mask, spec.start is not None, spec.end is not None,
                   spec.max_steps, gap, spec.per_session, spec.collapse_repeats,
                   out_person, out_offsets, out_codes)
        items = dictionary.take(pa.array(out_codes[: out_offsets[k]]))
        lists = pa.ListArray.from_arrays(pa.array(out_offsets[: k + 1]), items)
        person = table.column("person").take(pa.array(starts[out_person[:k]]))
        return pa.table({"person": person, "path": pc.binary_join(lists, SEP)},
                        schema=PATH_SCHEMA)

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

    def to_dict(self) -> dict[str, Any]:
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
    total_persons = pc.count_distinct(rows.column("person")).as_py() if rows.num_rows else 0
    share = (lambda k: k / total_persons) if total_persons else (lambda k: 0.0)
    by_path = rows.group_by("path").aggregate([("person", "count"),
                                               ("person", "count_distinct")])
    by_path = by_path.sort_by([("person_count", "descending"), ("path", "ascending")])
    top = tuple(
        PathRow(tuple(p.split(SEP)), c, d, share(d))
        for p, c, d in zip(by_path.column("path").to_pylist()[: spec.top],
                           by_path.column("person_count").to_pylist()[: spec.top],
                           by_path.column("person_count_distinct").to_pylist()[: spec.top],
                           strict=True))
    # explode paths into (person, position, item) for the Sankey
    lists = pc.split_pattern(rows.column("path"), SEP)
    flat = pc.list_flatten(lists)
    parent = pc.list_parent_indices(lists)
    sizes = np.asarray(pc.list_value_length(lists).to_numpy(zero_copy_only=False), np.int64)
    pos = (np.arange(len(flat)) - np.repeat(np.cumsum(sizes) - sizes, sizes)).astype(np.int64)
    persons = rows.column("person").take(parent)
    node_id = pc.binary_join_element_wise(pa.array(pos.astype(str)), flat, ":")
    nodes_t = pa.table({"id": node_id, "step": pos, "item": flat, "person": persons})
    nodes = nodes_t.group_by(["id", "step", "item"]).aggregate([("person", "count_distinct")])
    nodes = nodes.sort_by([("step", "ascending"), ("person_count_distinct", "descending"),
                           ("item", "ascending")])
    node_list = tuple(SankeyNode(i, s + 1, it, c) for i, s, it, c in zip(
        *(nodes.column(c).to_pylist() for c in ("id", "step", "item", "person_count_distinct")),
        strict=True))
    same = np.ones(len(flat), dtype=bool)
    if len(flat):
        same[:-1] = np.asarray(parent)[1:] == np.asarray(parent)[:-1]
        same[-1] = False
    src_idx = np.flatnonzero(same)
    links_t = pa.table({
        "source": node_id.take(pa.array(src_idx)), "target": node_id.take(pa.array(src_idx + 1)),
        "person": persons.take(pa.array(src_idx)),
    })
    links = links_t.group_by(["source", "target"]).aggregate([("person", "count"),
                                                             ("person", "count_distinct")])
    links = links.sort_by([("person_count", "descending"), ("source", "ascending"),
                           ("target", "ascending")]).slice(0, spec.max_links)
    link_list = tuple(SankeyLink(s, t, c, d, share(d)) for s, t, c, d in zip(
        *(links.column(c).to_pylist() for c in ("source", "target", "person_count",
                                                 "person_count_distinct")), strict=True))
    return PathsResult(spec, total_persons, rows.num_rows, top, node_list, link_list)


def paths(engine: Engine, spec: PathsSpec, *, check: bool = True) -> PathsResult:
    if check:
        known = set(engine.distinct(Col("event")))
        check_events(known, [(f, m) for f, m in (("start", spec.start), ("end", spec.end))
                             if m is not None])
    return summarize(spec, engine.run(_prepared(spec), kernel(spec), PATH_SCHEMA))


def spec_from_dict(doc: Mapping[str, Any]) -> PathsSpec:
    from cxlens.journeys.specs import duration_seconds, optional_time

    def match(key: str) -> Match | None:
        raw = doc.get(key)
        if raw is None:
            return None
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
        until=optional_time(doc.get("until"), "until"),
    )
