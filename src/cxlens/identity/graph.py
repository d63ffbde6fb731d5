"""From string id links to persons: encode ids as ints, union, choose a stable key.

A node is an (id type, id) pair, so the same text used as an e-mail and as a user id
are different nodes. Pairs become dense int32 codes from two 64-bit hashes of the
Arrow string buffers, chunk by chunk (``identity/codes.py``: no string copies, no
joins, no sort of the strings), links are put in time order by a radix sort, the
capped union-find runs in numba, and each person's id is a stable hash of its
representative: the id of the highest-priority type, lowest hash among those. That
choice depends only on the set of ids, never on arrival order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.identity import codes as enc
from cxlens.identity import unionfind as uf
from cxlens.identity.config import IdentityConfig

Column: TypeAlias = pa.Array | pa.ChunkedArray


@dataclass(frozen=True, slots=True)
class Links:
    """Links as parallel columns (chunked or not); ``linked_at`` in µs since the epoch."""

    type_a: Column
    id_a: Column
    type_b: Column
    id_b: Column
    linked_at: np.ndarray

    def __len__(self) -> int:
        return len(self.id_a)

    @classmethod
    def from_table(cls, t: pa.Table) -> Links:
        ts = t.column("linked_at")
        if pa.types.is_timestamp(ts.type):
            ts = pc.cast(ts, pa.timestamp("us", tz=ts.type.tz), safe=False)
        micros = (pc.cast(ts, pa.int64()).to_numpy() if len(ts) else np.zeros(0, np.int64)).astype(np.int64)
        return cls(t.column("id_type_a"), t.column("id_a"), t.column("id_type_b"), t.column("id_b"), micros)


@dataclass(frozen=True, slots=True)
class Stitched:
    """Every node with its person (in order of first appearance: link ends a, then
    ends b, then singleton nodes), and for every link whether it was over a cap."""

    id_type: pa.Array  # dictionary-encoded over the id type names
    id: Column
    person_id: pa.Array
    flagged: np.ndarray  # per input link, in input order

    def table(self) -> pa.Table:
        return pa.table({"id_type": self.id_type, "id": self.id, "person_id": self.person_id})


def _fixed_strings(raw: np.ndarray) -> pa.Array:
    """Rows of 17 bytes as a string array, built from buffers (no Python loop)."""
    n = raw.shape[0]
    offsets = np.arange(0, (n + 1) * 17, 17, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw.tobytes())])


def stitch(links: Links, cfg: IdentityConfig, nodes: tuple[Column, Column] | None = None,
           presorted: bool = False) -> Stitched:
    """Connected components of ``links`` (plus singleton ``nodes``: types, ids) under caps.

    Links are applied in ``linked_at`` order, ties broken by a hash of the two ids, so
    the same set of links gives the same persons whatever order they are passed in
    (``presorted`` promises that order already, e.g. from an ORDER BY).
    """
    n = len(links)
    type_cols: list[Column] = [links.type_a, links.type_b]
    id_cols: list[Column] = [links.id_a, links.id_b]
    if nodes is not None:
        type_cols.append(nodes[0])
        id_cols.append(nodes[1])
    # one helper thread takes what does not depend on the sequential union-find: the
    # time sort while the ids are hashed, the output strings and gathers while the
    # union runs (every kernel and Arrow call here releases the GIL)
    with ThreadPoolExecutor(1) as helper:
        sorting = helper.submit(uf.radix_argsort, links.linked_at) if not presorted and n >= 2 else None
        tcodes = enc.type_codes(type_cols, cfg.names)
        codes, first, node_h1, node_h2, row_h1, segs = enc.encode(id_cols, tcodes)
        output = helper.submit(_output_side, id_cols, tcodes, first, segs, cfg)
        if sorting is None:
            order = np.arange(n, dtype=np.int32)
        else:
            # the hash of a row is the hash of its node: the tie key needs no gather
            pair = row_h1[:n] ^ (row_h1[n : 2 * n] * np.uint64(0x9E3779B97F4A7C15))
            order, sorted_ts = sorting.result()
            uf.break_ties(order, sorted_ts, pair)
            del pair, sorted_ts
        del row_h1
        a, b, number, by_number = uf.time_numbering(codes, n, order, segs)
        node_type = tcodes[first[by_number]]
        key_side = helper.submit(lambda: (cfg.ranks()[node_type], node_h1[by_number]))
        caps = cfg.caps()
        word, shift, mask, width = uf.count_layout(caps)
        rec = np.empty((len(node_type), width), np.int32)
        flagged = np.empty(n, np.bool_)
        flagged[order] = uf.union_capped(a, b, node_type, caps, word, shift, mask, rec)
        del a, b
        rows, id_type, ids = output.result()
        out_nodes = helper.submit(lambda: number[codes[rows]])
        best_h1 = np.empty(len(node_type), np.uint64)
        best = np.empty(len(node_type), np.int32)
        rank, h1 = key_side.result()
        uf.person_keys(rec, rank, h1, node_h2, by_number, best_h1, best)
        roots = rec[:, 0]
        at = out_nodes.result()
    persons = np.empty((len(rows), 17), np.uint8)
    enc.ranges(len(rows), lambda lo, hi: uf.hex_ids(best_h1[roots[at[lo:hi]]], persons[lo:hi], 0, hi - lo))
    return Stitched(id_type, ids, _fixed_strings(persons), flagged)


def _output_side(id_cols: list[Column], tcodes: np.ndarray, first: np.ndarray, segs: np.ndarray,
                 cfg: IdentityConfig) -> tuple[np.ndarray, pa.Array, pa.ChunkedArray]:
    """Rows of the output (first row of each node, in row order: the id strings are
    read sequentially), their id types and id strings."""
    first_row = np.zeros(len(tcodes), np.bool_)
    for lo, hi in segs:
        first_row[first[lo:hi]] = True
    rows = np.flatnonzero(first_row)
    id_type = pa.DictionaryArray.from_arrays(pa.array(tcodes[rows].astype(np.int32)), pa.array(cfg.names))
    return rows, id_type, enc.take_mask(id_cols, first_row)
