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
    tcodes = enc.type_codes(type_cols, cfg.names)
    codes, first, node_h1, node_h2, row_h1 = enc.encode(id_cols, tcodes)
    n_nodes = first.shape[0]
    if presorted or n < 2:
        order = np.arange(n, dtype=np.int32)
    else:
        # the hash of a row is the hash of its node: the tie key needs no gather
        pair = row_h1[:n] ^ (row_h1[n : 2 * n] * np.uint64(0x9E3779B97F4A7C15))
        order = uf.radix_argsort(links.linked_at)
        uf.break_ties(order, links.linked_at, pair)
    a, b, number = uf.time_numbering(codes, n, order, n_nodes)
    by_number = np.empty(n_nodes, np.int32)
    by_number[number] = np.arange(n_nodes, dtype=np.int32)  # new number -> code
    node_type = tcodes[first]
    flagged_sorted, rec = uf.union_capped(a, b, node_type[by_number], cfg.caps())
    flagged = np.empty(n, np.bool_)
    flagged[order] = flagged_sorted
    out = uf.first_order(first, len(tcodes))  # codes by first row: strings are read in order
    keys = uf.person_keys(rec, cfg.ranks()[node_type[by_number]], node_h1[by_number], node_h2[by_number])
    persons = uf.hex_ids(keys[number[out]])
    id_type = pa.DictionaryArray.from_arrays(pa.array(node_type[out].astype(np.int32)), pa.array(cfg.names))
    return Stitched(id_type, enc.take_sorted(id_cols, first[out]), _fixed_strings(persons), flagged)
