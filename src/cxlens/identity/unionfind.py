"""Connected components of the id graph: capped union-find over int32 arrays (numba).

Why numba and not scipy's ``connected_components``: merging must respect per-person
caps (a shared device or a support agent's address must not merge thousands of
people), and whether a link merges depends on the links applied before it. That is a
sequential algorithm; NumPy cannot vectorise it and scipy cannot express the caps.

Nodes are ints ``0..n-1`` with a type code each; ``caps[t]`` is the most ids of type
``t`` one person may hold. Links are applied in the order given; a link that would
push the merged component over a cap is flagged and not applied.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(cache=True, nogil=True)
def _find(parent: np.ndarray, x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True, nogil=True)
def union_capped(
    a: np.ndarray, b: np.ndarray, node_type: np.ndarray, caps: np.ndarray,
    parent: np.ndarray, counts: np.ndarray,
) -> np.ndarray:
    """Apply links ``a[k] - b[k]`` in order, in place on ``parent``/``counts``.

    ``counts[root, t]`` is how many ids of type ``t`` the component of ``root`` holds.
    Returns a bool array: True where the link was over a cap (flagged, not merged).
    """
    n_types = counts.shape[1]
    flagged = np.zeros(a.shape[0], np.bool_)
    for k in range(a.shape[0]):
        ra = _find(parent, a[k])
        rb = _find(parent, b[k])
        if ra == rb:
            continue
        over = False
        for t in range(n_types):
            if counts[ra, t] + counts[rb, t] > caps[t]:
                over = True
                break
        if over:
            flagged[k] = True
            continue
        # union by size keeps the trees flat
        sa = 0
        sb = 0
        for t in range(n_types):
            sa += counts[ra, t]
            sb += counts[rb, t]
        if sa < sb:
            ra, rb = rb, ra
        parent[rb] = ra
        for t in range(n_types):
            counts[ra, t] += counts[rb, t]
    return flagged


@njit(cache=True, nogil=True)
def roots_of(parent: np.ndarray) -> np.ndarray:
    out = np.empty(parent.shape[0], np.int32)
    for i in range(parent.shape[0]):
        out[i] = _find(parent, i)
    return out


@njit(cache=True, nogil=True)
def _less(offsets: np.ndarray, data: np.ndarray, i: int, j: int) -> bool:
    """Bytewise ``key[i] < key[j]`` over an Arrow string array's buffers."""
    si, ei = offsets[i], offsets[i + 1]
    sj, ej = offsets[j], offsets[j + 1]
    li, lj = ei - si, ej - sj
    m = li if li < lj else lj
    for k in range(m):
        ci = data[si + k]
        cj = data[sj + k]
        if ci != cj:
            return bool(ci < cj)
    return bool(li < lj)


@njit(cache=True, nogil=True)
def representatives(
    root: np.ndarray, rank: np.ndarray, first: np.ndarray, offsets: np.ndarray,
    data: np.ndarray,
) -> np.ndarray:
    """Per node, the component's representative: lowest ``rank`` (= highest priority
    id type), then the bytewise smallest id (``first`` maps a node to a row of the
    strings). Independent of node numbering, hence of the order links arrived in."""
    n = root.shape[0]
    best = np.full(n, -1, np.int32)
    for i in range(n):
        r = root[i]
        j = best[r]
        if j < 0 or rank[i] < rank[j] or (
            rank[i] == rank[j] and _less(offsets, data, first[i], first[j])
        ):
            best[r] = i
    out = np.empty(n, np.int32)
    for i in range(n):
        out[i] = best[root[i]]
    return out


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


@njit(cache=True, nogil=True)
def hex_ids(values: np.ndarray) -> np.ndarray:
    """uint64 values as ``p`` + 16 lower-case hex digits, one row of bytes each."""
    n = values.shape[0]
    out = np.empty((n, 17), np.uint8)
    for i in range(n):
        v = values[i]
        out[i, 0] = 112  # "p"
        for d in range(16):
            out[i, 16 - d] = _HEX[np.intp(v & np.uint64(15))]
            v = v >> np.uint64(4)
    return out


@njit(cache=True, nogil=True)
def _hash_one(offsets: np.ndarray, data: np.ndarray, i: int, t: int) -> np.uint64:
    """64-bit hash of (type, bytes): eight bytes per multiply, then a splitmix64 finish.
    Stable across runs and machines (person ids are derived from it)."""
    h = (_FNV_OFFSET ^ np.uint64(t + 1)) * _FNV_PRIME
    k = offsets[i]
    end = offsets[i + 1]
    while k + 8 <= end:
        w = (np.uint64(data[k]) | (np.uint64(data[k + 1]) << np.uint64(8))
             | (np.uint64(data[k + 2]) << np.uint64(16)) | (np.uint64(data[k + 3]) << np.uint64(24))
             | (np.uint64(data[k + 4]) << np.uint64(32)) | (np.uint64(data[k + 5]) << np.uint64(40))
             | (np.uint64(data[k + 6]) << np.uint64(48)) | (np.uint64(data[k + 7]) << np.uint64(56)))
        h = (h ^ w) * _FNV_PRIME
        h = h ^ (h >> np.uint64(29))
        k += 8
    while k < end:
        h = (h ^ np.uint64(data[k])) * _FNV_PRIME
        k += 1
    h = h ^ np.uint64(end - offsets[i])
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True)
def _equal(offsets: np.ndarray, data: np.ndarray, i: int, j: int) -> bool:
    li = offsets[i + 1] - offsets[i]
    if li != offsets[j + 1] - offsets[j]:
        return False
    si, sj = offsets[i], offsets[j]
    for k in range(li):  # noqa: SIM110 - a plain loop is what numba compiles best
        if data[si + k] != data[sj + k]:
            return False
    return True


@njit(cache=True, nogil=True)
def encode(offsets: np.ndarray, data: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense int32 codes for (type, string) pairs by open addressing on a 64-bit hash,
    confirmed bytewise (so a hash collision can never merge two ids).

    A slot packs the upper 32 hash bits with the code into one uint64, so a probe
    costs one cache miss; the strings are compared only when those bits match.
    Returns (code per input row, first input row of each code, hash of each code).
    """
    n = offsets.shape[0] - 1
    size = 1
    while size < 2 * n + 2:
        size *= 2
    mask = np.uint64(size - 1)
    empty = np.uint64(0xFFFFFFFFFFFFFFFF)
    low = np.uint64(0xFFFFFFFF)
    table = np.full(size, empty, np.uint64)
    codes = np.empty(n, np.int32)
    first = np.empty(n, np.int32)
    hashes = np.empty(n, np.uint64)
    n_codes = 0
    for i in range(n):
        h = _hash_one(offsets, data, i, types[i])
        tag = h & ~low
        slot = h & mask
        while True:
            e = table[slot]
            if e == empty:
                table[slot] = tag | np.uint64(n_codes)
                first[n_codes] = i
                hashes[n_codes] = h
                codes[i] = n_codes
                n_codes += 1
                break
            if (e & ~low) == tag:
                c = np.int64(e & low)
                j = first[c]
                if types[j] == types[i] and _equal(offsets, data, i, j):
                    codes[i] = c
                    break
            slot = (slot + np.uint64(1)) & mask
    return codes, first[:n_codes].copy(), hashes[:n_codes].copy()


@njit(cache=True, nogil=True)
def hash_pairs(offsets: np.ndarray, data: np.ndarray, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of every (type, string): one sequential pass."""
    n = offsets.shape[0] - 1
    h1 = np.empty(n, np.uint64)
    h2 = np.empty(n, np.uint64)
    for i in range(n):
        h1[i] = _hash_one(offsets, data, i, types[i])
        h2[i] = _hash_one(offsets, data, i, types[i] + 977)
    return h1, h2


@njit(cache=True, nogil=True)
def codes_from_sorted(order: np.ndarray, h1: np.ndarray, h2: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Dense codes from rows sorted by ``h1``: equal (h1, h2) is the same id (a false
    match needs a 128-bit collision). Returns codes, first row and h1 of each code, and
    False if two ids shared h1 but not h2 (then the caller uses ``encode``)."""
    n = order.shape[0]
    codes = np.empty(n, np.int32)
    first = np.empty(n, np.int32)
    hashes = np.empty(n, np.uint64)
    c = -1
    prev = np.uint64(0)
    prev2 = np.uint64(0)
    for k in range(n):
        i = order[k]
        if k == 0 or h1[i] != prev:
            c += 1
            first[c] = i
            hashes[c] = h1[i]
            prev = h1[i]
            prev2 = h2[i]
        elif h2[i] != prev2:
            return codes, first, hashes, False
        codes[i] = c
    return codes, first[: c + 1].copy(), hashes[: c + 1].copy(), True


@njit(cache=True, nogil=True)
def init_counts(node_type: np.ndarray, n_types: int) -> tuple[np.ndarray, np.ndarray]:
    n = node_type.shape[0]
    parent = np.empty(n, np.int32)
    counts = np.zeros((n, n_types), np.int32)
    for i in range(n):
        parent[i] = i
        counts[i, node_type[i]] = 1
    return parent, counts


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
        else:
            for i in range(start + 1, end):
                x = order[i]
                j = i - 1
                while j >= start and key[order[j]] > key[x]:
                    order[j + 1] = order[j]
                    j -= 1
                order[j + 1] = x
        start = end
