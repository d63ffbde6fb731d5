"""Connected components of the id graph: capped union-find over int32 arrays (numba).

Why numba and not scipy's ``connected_components``: merging must respect per-person
caps (a shared device or a support agent's address must not merge thousands of
people), and whether a link merges depends on the links applied before it. That is a
sequential algorithm; NumPy cannot vectorise it and scipy cannot express the caps.

Nodes are ints ``0..n-1`` with a type code each; ``caps[t]`` is the most ids of type
``t`` one person may hold. Links are applied in time order; a link that would push
the merged component over a cap is flagged and not applied.

Memory layout: one int32 row per node, ``[parent, count of type 0, ..., pad]``, padded
to a power of two, so finding a root and reading its counts is one cache line: at
10M links the loop is bound by cache misses, not arithmetic.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def radix_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of int64 ``keys`` by LSD radix sort on 11-bit digits of
    ``key - min`` (as many passes as the key range needs: 4 for a year in µs)."""
    n = keys.shape[0]
    order = np.arange(n).astype(np.int32)
    if n < 2:
        return order
    lo = keys[0]
    hi = keys[0]
    for i in range(n):
        lo = min(lo, keys[i])
        hi = max(hi, keys[i])
    span = np.uint64(hi - lo)
    bits = 0
    while bits < 64 and (span >> np.uint64(bits)) > 0:
        bits += 11
    k = np.empty(n, np.uint64)
    for i in range(n):
        k[i] = np.uint64(keys[i] - lo)
    tmp_o = np.empty(n, np.int32)
    tmp_k = np.empty(n, np.uint64)
    count = np.empty(2049, np.int64)
    shift = np.int64(0)
    while shift < bits:
        count[:] = 0
        s = np.uint64(shift)
        for i in range(n):
            count[np.int64((k[i] >> s) & np.uint64(2047)) + 1] += 1
        for c in range(2048):
            count[c + 1] += count[c]
        for i in range(n):
            d = np.int64((k[i] >> s) & np.uint64(2047))
            q = count[d]
            tmp_o[q] = order[i]
            tmp_k[q] = k[i]
            count[d] = q + 1
        order, tmp_o = tmp_o, order
        k, tmp_k = tmp_k, k
        shift += 11
    return order


@njit(cache=True, nogil=True)
def break_ties(order: np.ndarray, ts: np.ndarray, key: np.ndarray) -> None:
    """Within runs of equal ``ts`` (in ``order``), sort by ``key``: insertion sort for the
    usual short runs, a real sort for long ones (e.g. many links stamped alike)."""
    n = order.shape[0]
    start = 0
    while start < n:
        end = start + 1
        while end < n and ts[order[end]] == ts[order[start]]:
            end += 1
        if end - start > 16:
            run = order[start:end].copy()
            idx = np.argsort(key[run], kind="mergesort")
            for i in range(end - start):
                order[start + i] = run[idx[i]]
        elif end - start > 1:
            for i in range(start + 1, end):
                x = order[i]
                j = i - 1
                while j >= start and key[order[j]] > key[x]:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = x
        start = end


@njit(cache=True, nogil=True, inline="always")
def _find(rec: np.ndarray, x: int) -> int:
    """Root of ``x`` with path halving (every node on the way skips its parent)."""
    while rec[x, 0] != x:
        p = rec[x, 0]
        gp = rec[p, 0]
        rec[x, 0] = gp
        x = gp
    return x


@njit(cache=True, nogil=True)
def time_numbering(codes: np.ndarray, n_links: int, order: np.ndarray, n_nodes: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renumber nodes by their first appearance in time order, and give both ends of
    the links in that order. The union loop then meets most new nodes at the next
    free number (sequential memory) instead of at a random hash position: at 10M
    links that halves the cache misses of the loop. Returns (ends a, ends b, new
    number of each old code); nodes no link touches are numbered last."""
    new = np.full(n_nodes, -1, np.int32)
    a = np.empty(n_links, np.int32)
    b = np.empty(n_links, np.int32)
    nxt = 0
    for k in range(order.shape[0]):
        j = order[k]
        x = codes[j]
        if new[x] < 0:
            new[x] = nxt
            nxt += 1
        a[k] = new[x]
        y = codes[n_links + j]
        if new[y] < 0:
            new[y] = nxt
            nxt += 1
        b[k] = new[y]
    for c in range(n_nodes):
        if new[c] < 0:
            new[c] = nxt
            nxt += 1
    return a, b, new


@njit(cache=True, nogil=True)
def union_capped(a: np.ndarray, b: np.ndarray, node_type: np.ndarray, caps: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Apply links ``a[k] - b[k]`` in order k = 0, 1, ...

    Returns (flagged per link: over a cap, not merged; the node rows, whose column 0
    is the parent)."""
    n_nodes = node_type.shape[0]
    n_types = caps.shape[0]
    width = 8  # person_ids keeps 6 values per root there after the union
    while width < n_types + 1:
        width *= 2
    rec = np.zeros((n_nodes, width), np.int32)
    for i in range(n_nodes):
        rec[i, 0] = i
        rec[i, 1 + node_type[i]] = 1
    flagged = np.zeros(a.shape[0], np.bool_)
    for j in range(a.shape[0]):
        ra = _find(rec, a[j])
        rb = _find(rec, b[j])
        if ra == rb:
            continue
        over = False
        sa = 0
        sb = 0
        for t in range(n_types):
            ca = rec[ra, 1 + t]
            cb = rec[rb, 1 + t]
            if ca + cb > caps[t]:
                over = True
                break
            sa += ca
            sb += cb
        if over:
            flagged[j] = True
            continue
        if sa < sb:  # union by size keeps the trees flat
            ra, rb = rb, ra
        rec[rb, 0] = ra
        for t in range(n_types):
            rec[ra, 1 + t] += rec[rb, 1 + t]
    return flagged, rec


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


@njit(cache=True, nogil=True, inline="always")
def _u64(rec: np.ndarray, r: int, col: int) -> np.uint64:
    return (np.uint64(np.uint32(rec[r, col])) << np.uint64(32)) | np.uint64(np.uint32(rec[r, col + 1]))


@njit(cache=True, nogil=True)
def person_keys(rec: np.ndarray, rank: np.ndarray, h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    """Per node, the h1 of its component's representative (the person key). The representative of a component is its
    node of lowest ``rank`` (highest priority id type), then lowest (h1, h2): it
    depends only on the set of ids, never on numbering or the order links arrived in.

    The counts in ``rec`` are not needed after the union, so each root's row keeps its
    best candidate so far (node, rank, h1, h2): one cache line per lookup."""
    n = rec.shape[0]
    root = np.empty(n, np.int32)
    for i in range(n):
        r = _find(rec, i)
        root[i] = r
        if rec[r, 1] >= 0:  # first visit of this root: no candidate yet
            rec[r, 1] = -1
    for i in range(n):
        r = root[i]
        better = rec[r, 1] < 0 or rank[i] < rec[r, 2]
        if not better and rank[i] == rec[r, 2]:
            b1 = _u64(rec, r, 3)
            better = h1[i] < b1 or (h1[i] == b1 and h2[i] < _u64(rec, r, 5))
        if better:
            rec[r, 1] = i
            rec[r, 2] = rank[i]
            rec[r, 3] = np.int32(np.uint32(h1[i] >> np.uint64(32)))
            rec[r, 4] = np.int32(np.uint32(h1[i] & np.uint64(0xFFFFFFFF)))
            rec[r, 5] = np.int32(np.uint32(h2[i] >> np.uint64(32)))
            rec[r, 6] = np.int32(np.uint32(h2[i] & np.uint64(0xFFFFFFFF)))
    keys = np.empty(n, np.uint64)
    for i in range(n):
        keys[i] = _u64(rec, root[i], 3)
    return keys


@njit(cache=True, nogil=True)
def hex_ids(keys: np.ndarray) -> np.ndarray:
    """uint64 keys as ``p`` + 16 lower-case hex digits, one row of 17 bytes each."""
    out = np.empty((keys.shape[0], 17), np.uint8)
    for k in range(keys.shape[0]):
        v = keys[k]
        out[k, 0] = 112  # "p"
        for d in range(16):
            out[k, 16 - d] = _HEX[np.intp(v & np.uint64(15))]
            v = v >> np.uint64(4)
    return out


@njit(cache=True, nogil=True)
def first_order(first: np.ndarray, n_rows: int) -> np.ndarray:
    """Node codes ordered by their first row (a counting sort: rows are unique)."""
    slot = np.full(n_rows, -1, np.int32)
    for c in range(first.shape[0]):
        slot[first[c]] = c
    out = np.empty(first.shape[0], np.int32)
    k = 0
    for r in range(n_rows):
        if slot[r] >= 0:
            out[k] = slot[r]
            k += 1
    return out
