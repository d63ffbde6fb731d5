"""The sequence cache: a project's analysable events as compact sorted arrays.

Every journey analysis on DuckDB starts with the same expensive part: join identity's
person ids to every event, leave out persons who denied consent, and sort everything
by (person, timestamp, event, event_id). The result barely depends on the analysis:
only a step bitmask, a row filter and a label column do, and for most analyses those
are functions of a few low-cardinality fields of the event. So this module keeps, per
project, the sorted events once as three arrays:

- ``person`` int32: the person's code (persons are numbered in sorted order; their ids
  are a dictionary of strings),
- ``ts`` int64: µs since the epoch,
- ``cls`` int32: the event's *class*, a code for its combination of :data:`FACETS`
  (event, type, channel, source, page path, device type), with a small table of the
  distinct classes.

An analysis whose :class:`~cxlens.engines.base.Prepared` only reads facets (and time) is
served from the arrays: its conditions and labels are evaluated once per class — by
DuckDB, with the same SQL the engine compiles (``engines.expr.to_sql``), on a table of
the classes — and become lookup tables; the kernel then gets the selected rows, already
in the engine's order, with persons and labels as Arrow dictionary arrays. Everything
else (property filters, profile breakdowns, ...) takes the engine's SQL path.

Correctness rests on one rule: the cache is used only when its key equals the current
key — a hash of every live file of the project in the catalog (events, identity map,
tables) and of the config — so any append, compaction, identity resolve, unlink or
erasure makes it stale at once, and the engine falls back to SQL until it is built
again (``build``: after ``cxlens compact``, by ``cxlens journey cache`` or the server's
warm-up). The rows come from the engine's own analysable view with the engine's own
ORDER BY, so identity and consent rules are those of the SQL path by construction.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from cxlens.engines import seqsort
from cxlens.engines.base import Kernel, Prepared
from cxlens.engines.expr import (
    And,
    Case,
    Cmp,
    Coalesce,
    Col,
    Cond,
    Expr,
    In,
    IsNull,
    Json,
    Lit,
    Not,
    Or,
    to_sql,
)
from cxlens.errors import CxError

FORMAT = 1
#: what a class is made of: the fields the cache can answer conditions about
FACETS: tuple[Col | Json, ...] = (
    Col("event"), Col("type"), Col("channel"), Col("source"),
    Json("context", "page.path"), Json("context", "device.type"),
)
_FACET_NAMES = ("event", "type", "channel", "source", "page_path", "device_type")
_TIME = Col("timestamp")
_CACHE_DIR = "_cache/sequences"


class SequenceCacheError(CxError):
    """The sequence cache could not be built (the SQL path still answers)."""


@dataclass(frozen=True, slots=True)
class Sequences:
    """One project's sorted events (see the module doc). Arrays may be memory-mapped."""

    key: str
    person: np.ndarray  # int32, non-decreasing
    ts: np.ndarray  # int64
    cls: np.ndarray  # int32
    persons: pa.Array  # string, the id of each person code
    classes: pa.Table  # one row per class: the facets (context rebuilt as JSON)

    @property
    def rows(self) -> int:
        return int(self.person.shape[0])


# -- the key ----------------------------------------------------------------------------
def cache_key(ws: Any, project: str) -> str:
    """Changes whenever anything an analysis of ``project`` reads changes."""
    rows = ws.catalog.execute(
        "SELECT tbl, path, rows FROM files WHERE project = ? ORDER BY tbl, path", [project]
    ).fetchall()
    h = hashlib.sha256(f"cxlens-sequences-{FORMAT}\n".encode())
    h.update(json.dumps(ws.config, sort_keys=True, default=str).encode())
    for tbl, path, n in rows:
        h.update(f"{tbl}\t{path}\t{n}\n".encode())
    return h.hexdigest()[:32]


def _dir(ws: Any, project: str) -> Path:
    return Path(ws.root) / _CACHE_DIR / f"project={project}"


# -- building -----------------------------------------------------------------------------
def _facet_sql(params: list[Any]) -> str:
    return ", ".join(f"{to_sql(f, params)} AS {n}" for f, n in zip(FACETS, _FACET_NAMES,
                                                                     strict=True))


def build(ws: Any, project: str | None = None) -> dict[str, Any]:
    """Build the cache of ``project`` unless it is current; returns what it did and how
    long it took. Raises :class:`SequenceCacheError` when the events cannot be cached."""
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys.persons import PERSON_KEY

    project = project or ws.default_project
    started = time.perf_counter()
    key = cache_key(ws, project)
    if load(ws, project) is not None:
        return {"project": project, "built": False, "seconds": 0.0}
    engine = DuckDBEngine(ws, project, sequences=False)

    def fetch(view: str) -> tuple[pa.Table, dict[str, np.ndarray], pa.Array]:
        con = ws.con
        params: list[Any] = []
        facets = _facet_sql(params)
        names = ", ".join(_FACET_NAMES)
        # classes from the raw events: a superset of the analysable ones, without the joins
        raw_view = f"_cx_raw_{uuid.uuid4().hex[:12]}"
        ws.events(project).create_view(raw_view)
        try:
            classes = con.sql(f"SELECT DISTINCT *, hash({names}) AS h FROM (SELECT {facets} "
                              f"FROM {raw_view})", params=params).to_arrow_table()
        finally:
            con.execute(f"DROP VIEW IF EXISTS {raw_view}").fetchall()
        classes = _sorted_classes(classes)
        hashes = _u64(classes, "h")
        rparams: list[Any] = []
        person = to_sql(PERSON_KEY, rparams)
        reader = con.sql(
            f"SELECT hash(person) AS ph, CAST(hash(person, 1) >> 32 AS UINTEGER) AS ph2, ts, "
            f"hash({names}) AS h, hash(event_id) AS eh, person FROM (SELECT {person} AS person, "
            f"epoch_us(timestamp) AS ts, event_id, {_facet_sql(rparams)} FROM {view} "
            f"WHERE {person} IS NOT NULL)", params=rparams).to_arrow_reader(1 << 22)
        # streamed batch by batch: the person id strings are kept once per batch and
        # person, not once per event (they would be most of the memory)
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("ph", "ph2", "ts", "cls", "eh")}
        ids_ph: list[np.ndarray] = []
        ids: list[pa.Array] = []
        for batch in reader:
            ph = _u64(batch, "ph")
            parts["ph"].append(ph)
            parts["ph2"].append(np.asarray(batch.column("ph2").to_numpy(), dtype=np.uint32))
            parts["ts"].append(_i64(batch, "ts"))
            parts["cls"].append(_class_codes(hashes, _u64(batch, "h")))
            parts["eh"].append(_u64(batch, "eh"))
            uniq, first = np.unique(ph, return_index=True)
            ids_ph.append(uniq)
            ids.append(batch.column("person").take(pa.array(first)))
        arrays = {k: (np.concatenate(v) if v else np.zeros(0, dtype=np.uint64))
                  for k, v in parts.items()}
        all_ph = np.concatenate(ids_ph) if ids_ph else np.zeros(0, dtype=np.uint64)
        uniq, first = np.unique(all_ph, return_index=True)
        strings = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
        arrays["id_ph"] = uniq
        return classes, arrays, strings.take(pa.array(first))

    classes, arr, id_strings = engine._with_view(fetch)
    ph, ts, cls, eh = arr["ph"], arr["ts"], arr["cls"].astype(np.int32), arr["eh"]
    rank = _event_rank(classes)[cls]
    order = seqsort.sort_rows(ph, ts, rank, eh)
    ph, ts, rank = ph[order], ts[order], rank[order]
    if not seqsort.same_within(ph, arr["ph2"][order]):
        raise SequenceCacheError("two persons share a 64-bit hash; cannot cache")
    ties = seqsort.tie_groups(ph, ts, rank)
    if len(ties):
        order = _order_ties(engine, order, ties, ph, ts, eh)
    cls = cls[order]
    id_ph = arr["id_ph"]
    del arr, rank, eh
    person = seqsort.run_codes(ph)
    starts = np.flatnonzero(np.diff(person, prepend=-1))
    person_ids = id_strings.take(pa.array(np.searchsorted(id_ph, ph[starts])))
    return _install(ws, project, key, classes, person, ts, cls, person_ids, started)


def _column(table: pa.Table | pa.RecordBatch, name: str) -> Any:
    col = table.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _u64(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    return np.asarray(_column(table, name).to_numpy(zero_copy_only=False), dtype=np.uint64)


def _i64(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    return np.asarray(_column(table, name).to_numpy(zero_copy_only=False), dtype=np.int64)


def _sorted_classes(classes: pa.Table) -> pa.Table:
    """The class table sorted by hash (a class's code is its row)."""
    hashes = _u64(classes, "h")
    order = np.argsort(hashes)
    if len(hashes) > 1 and (np.diff(hashes[order]) == 0).any():
        raise SequenceCacheError("two event classes share a 64-bit hash; cannot cache")
    return classes.take(pa.array(order))


def _class_codes(hashes: np.ndarray, row_h: np.ndarray) -> np.ndarray:
    cls = np.searchsorted(hashes, row_h).astype(np.int32)
    if len(cls) and (cls.max(initial=0) >= len(hashes) or (hashes[cls] != row_h).any()):
        raise SequenceCacheError("an event's class is missing from the class table")
    return cls


def _event_rank(classes: pa.Table) -> np.ndarray:
    """Per class, the rank of ``coalesce(event, '')`` in byte order (the engine's tie rule)."""
    names = ["" if v is None else v for v in classes.column("event").to_pylist()]
    ordered = sorted(set(names), key=lambda v: v.encode())
    at = {v: i for i, v in enumerate(ordered)}
    return np.array([at[v] for v in names], dtype=np.int32)


def _order_ties(engine: Any, order: np.ndarray, ties: np.ndarray, ph: np.ndarray,
                ts: np.ndarray, eh_raw: np.ndarray) -> np.ndarray:
    """Rows equal in (person, time, event) ordered by their event id, as the engine does."""
    from cxlens.journeys.persons import PERSON_KEY

    rows = np.concatenate([np.arange(a, b) for a, b in zip(ties[0::2], ties[1::2],
                                                           strict=True)])
    wanted = pa.table({"ph": pa.array(np.unique(ph[rows]), pa.uint64())})
    ws = engine.ws

    def fetch(view: str) -> pa.Table:
        params: list[Any] = []
        person = to_sql(PERSON_KEY, params)
        cur = ws.cursor()
        name = f"_cx_ties_{uuid.uuid4().hex[:12]}"
        try:
            cur.register(name, wanted)
            return cur.sql(
                f"SELECT hash({person}) AS ph, epoch_us(timestamp) AS ts, hash(event_id) AS eh, "
                f"event_id FROM {view} WHERE hash({person}) IN (SELECT ph FROM {name})",
                params=params).to_arrow_table()
        finally:
            cur.close()

    ids = engine._with_view(fetch)
    lookup = {(a, b, c): d for a, b, c, d in zip(
        _u64(ids, "ph").tolist(), _i64(ids, "ts").tolist(), _u64(ids, "eh").tolist(),
        ids.column("event_id").to_pylist(), strict=True)}
    order = order.copy()
    for a, b in zip(ties[0::2].tolist(), ties[1::2].tolist(), strict=True):
        group = order[a:b]
        keyed = sorted(group.tolist(), key=lambda r: lookup[(int(ph[a]), int(ts[a]),
                                                             int(eh_raw[r]))].encode())
        order[a:b] = keyed
    return order


def _install(ws: Any, project: str, key: str, classes: pa.Table, person: np.ndarray,
             ts: np.ndarray, cls: np.ndarray, person_ids: pa.Array,
             started: float) -> dict[str, Any]:
    used = np.bincount(cls, minlength=len(classes)) > 0
    ctx = pc.binary_join_element_wise(
        '{"page": {"path": ', _json_text(classes.column("page_path")),
        '}, "device": {"type": ', _json_text(classes.column("device_type")), "}}", "")
    class_table = pa.table({
        "event": classes.column("event"), "type": classes.column("type"),
        "channel": classes.column("channel"), "source": classes.column("source"),
        "context": ctx, "used": pa.array(used),
    })
    out = _dir(ws, project)
    tmp = Path(ws.root) / "_tmp" / f"sequences-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    arrays = pa.table({"person": person, "ts": ts, "cls": cls})
    with ipc.new_file(str(tmp / "rows.arrow"), arrays.schema) as w:
        w.write_table(arrays, max_chunksize=max(len(ts), 1))
    pq.write_table(pa.table({"person": person_ids}), tmp / "persons.parquet")
    pq.write_table(class_table, tmp / "classes.parquet")
    (tmp / "KEY").write_text(key)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / key
    if dest.exists() or cache_key(ws, project) != key:  # changed meanwhile: do not keep
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(dest)
    for old in out.iterdir():
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    _MEMO.clear()
    return {"project": project, "built": True, "rows": len(ts), "persons": len(person_ids),
            "classes": len(class_table), "seconds": time.perf_counter() - started,
            "bytes": sum(p.stat().st_size for p in dest.iterdir()) if dest.exists() else 0}


def _json_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A JSON string literal for each value ('null' for NULL)."""
    texts = [json.dumps(v) for v in col.to_pylist()]
    return pa.chunked_array([pa.array(texts, pa.string())])


# -- loading --------------------------------------------------------------------------
_MEMO: dict[tuple[str, str], Sequences] = {}
_MEMO_LOCK = threading.Lock()


def load(ws: Any, project: str) -> Sequences | None:
    """The cache of ``project`` if it is current, else None."""
    key = cache_key(ws, project)
    memo_key = (str(ws.root), project)
    with _MEMO_LOCK:
        hit = _MEMO.get(memo_key)
        if hit is not None and hit.key == key:
            return hit
    path = _dir(ws, project) / key
    try:
        with pa.memory_map(str(path / "rows.arrow")) as source:
            table = ipc.open_file(source).read_all()
        persons = pq.read_table(path / "persons.parquet").column("person").combine_chunks()
        classes = pq.read_table(path / "classes.parquet")
    except (FileNotFoundError, OSError, pa.ArrowInvalid):
        return None

    def col(name: str) -> np.ndarray:
        return np.asarray(table.column(name).combine_chunks().to_numpy(zero_copy_only=False))

    seq = Sequences(key, col("person"), col("ts"), col("cls"), persons, classes)
    with _MEMO_LOCK:
        _MEMO[memo_key] = seq
    return seq


# -- serving ------------------------------------------------------------------------------
def _nodes(node: Expr | Cond) -> Iterator[Expr | Cond]:
    yield node
    match node:
        case Coalesce(args) | And(args) | Or(args):
            for a in args:
                yield from _nodes(a)
        case Case(whens, default):
            for c, _ in whens:
                yield from _nodes(c)
            if default is not None:
                yield from _nodes(default)
        case Cmp(left, _, _) | In(left, _):
            yield from _nodes(left)
        case IsNull(arg) | Not(arg):
            yield from _nodes(arg)


def servable(prep: Prepared) -> bool:
    """True when every field ``prep`` reads is a facet (time only through since/until)."""
    roots: list[Expr | Cond] = [*prep.flags, *(e for _, e in prep.strings)]
    if prep.where is not None:
        roots.append(prep.where)
    for root in roots:
        for node in _nodes(root):
            if isinstance(node, Col | Json) and node not in FACETS:
                return False
            if not isinstance(node, Col | Json | Lit | Coalesce | Case | Cmp | In | IsNull
                              | And | Or | Not):
                return False
    return True


def _per_class(ws: Any, seq: Sequences, prep: Prepared) -> tuple[np.ndarray, np.ndarray,
                                                                   list[pa.Array]]:
    """(keep, mask, label codes per string column) for each class, evaluated by DuckDB."""
    params: list[Any] = []
    cols = [f"({to_sql(prep.where, params)}) IS TRUE AS keep" if prep.where is not None
            else "TRUE AS keep"]
    for i, c in enumerate(prep.flags):
        cols.append(f"({to_sql(c, params)}) IS TRUE AS f{i}")
    for i, (_, e) in enumerate(prep.strings):
        cols.append(f"CAST({to_sql(e, params)} AS VARCHAR) AS s{i}")
    name = f"_cx_cls_{uuid.uuid4().hex[:12]}"
    cur = ws.cursor()
    try:
        cur.register(name, seq.classes)
        res = cur.sql(f"SELECT {', '.join(cols)} FROM {name}", params=params).to_arrow_table()
    finally:
        cur.close()
    keep = np.asarray(res.column("keep").to_numpy(zero_copy_only=False), dtype=bool)
    mask = np.zeros(len(keep), dtype=np.int64)
    for i in range(len(prep.flags)):
        f = np.asarray(res.column(f"f{i}").to_numpy(zero_copy_only=False), dtype=bool)
        mask |= f.astype(np.int64) << i
    labels = [res.column(f"s{i}").combine_chunks() for i in range(len(prep.strings))]
    # the engine's SQL also requires a person, which every cached row has
    return keep, mask, labels


@nb.njit(cache=True, nogil=True)
def _select(cls: np.ndarray, ts: np.ndarray, keep: np.ndarray, lo: int, hi: int) -> np.ndarray:
    n = 0
    out = np.empty(cls.shape[0], dtype=np.int64)
    for i in range(cls.shape[0]):
        if keep[cls[i]] and lo <= ts[i] < hi:
            out[n] = i
            n += 1
    return out[:n]


def _us(value: Any) -> int:
    from datetime import UTC

    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(round(value.timestamp() * 1_000_000))  # noqa: RUF046 (a float's round)


def _dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0, type=pa.int32()),
                                          values)


def prepared_table(seq: Sequences, ws: Any, prep: Prepared) -> pa.Table:
    """``prep``'s rows and columns from the cache, in the engine's order."""
    keep, mask, labels = _per_class(ws, seq, prep)
    lo = _us(prep.since) if prep.since is not None else -(2**62)
    hi = _us(prep.until) if prep.until is not None else 2**62
    rows = _select(seq.cls, seq.ts, keep, lo, hi)
    cls = seq.cls[rows]
    cols: dict[str, Any] = {
        "person": _dictionary(seq.person[rows], seq.persons),
        "ts": pa.array(seq.ts[rows]),
    }
    if prep.flags:
        cols["mask"] = pa.array(mask[cls])
    for (name, _), lab in zip(prep.strings, labels, strict=True):
        values, inverse = _label_codes(lab)
        cols[name] = _dictionary(inverse[cls], values)
    return pa.table(cols)


def _label_codes(labels: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null labels and, per class, the label's code (-1 for null)."""
    enc = pc.dictionary_encode(labels)
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int32)
    return enc.dictionary, codes


def split_persons(table: pa.Table, parts: int) -> list[pa.Table]:
    """``table`` cut into ``parts`` slices that never split a person."""
    n = table.num_rows
    if parts <= 1 or n < 1_000_000:
        return [table]
    person = table.column("person").combine_chunks()
    idx = np.asarray(person.indices.to_numpy(zero_copy_only=False))
    cuts = [0]
    for k in range(1, parts):
        at = int(np.searchsorted(idx, idx[n * k // parts], side="left"))
        if at > cuts[-1]:
            cuts.append(at)
    cuts.append(n)
    return [table.slice(a, b - a) for a, b in itertools.pairwise(cuts) if b > a]


def run(seq: Sequences, ws: Any, prep: Prepared, kernel: Kernel, out_schema: pa.Schema,
        threads: int = 2) -> pa.Table:
    """``kernel`` over the cached rows of ``prep``: person-whole slices on ``threads``
    threads (the numba kernels release the GIL); the outputs are mergeable partials."""
    table = prepared_table(seq, ws, prep)
    if table.num_rows == 0:
        return out_schema.empty_table()
    parts = split_persons(table, threads)
    one: Callable[[pa.Table], pa.Table] = lambda t: kernel(t).cast(out_schema)  # noqa: E731
    if len(parts) == 1:
        return one(parts[0])
    with ThreadPoolExecutor(len(parts)) as pool:
        outs = list(pool.map(one, parts))
    return pa.concat_tables(outs)


def distinct(seq: Sequences, ws: Any, expr: Expr, limit: int) -> list[str]:
    """Distinct non-null values of ``expr`` over the cached events."""
    prep = Prepared(strings=(("v", expr),))
    _, _, labels = _per_class(ws, seq, prep)
    used = np.asarray(seq.classes.column("used").to_numpy(zero_copy_only=False), dtype=bool)
    vals = labels[0].filter(pa.array(used))
    return sorted({str(v) for v in vals.to_pylist() if v is not None})[:limit]


def clear(ws: Any) -> None:
    """Remove every project's cache (it is rebuilt on demand)."""
    shutil.rmtree(Path(ws.root) / _CACHE_DIR, ignore_errors=True)
    _MEMO.clear()


def threads_default() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
