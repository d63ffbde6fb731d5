"""Connected components of the id graph: capped union-find over int32 arrays (numba).

Why numba and not scipy's ``connected_components``: merging must respect per-person
caps (a shared device or a support agent's address must not merge thousands of
people), and whether a link merges depends on the links applied before it. That is a
sequential algorithm; NumPy cannot vectorise it and scipy cannot express the caps.

Nodes are ints ``0..n-1`` with a type code each; ``caps[t]`` is the most ids of type
``t`` one person may hold. Links are applied in time order; a link that would push
the merged component over a cap is flagged and not applied.

Memory layout: one int32 row per node, ``[parent, packed counts per type]`` (see
``count_layout``): 8 bytes per node with the default caps, so finding a root and
reading its counts is one cache line and 11M nodes take 88 MB: at 10M links the loop
is bound by cache misses, not arithmetic (the earlier 32-byte rows took 1.5 CPU-s
for the union at 10M links, these 0.9 on the same loaded box).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def radix_argsort(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable argsort of int64 ``keys`` by LSD radix sort on digits of at most 12 bits
    of ``key - min`` (as many passes as the key range needs: 4 for half a year in µs).
    Returns (order, ``key - min`` in that order): the ties can then be found by a
    sequential scan instead of a gather of the keys."""
    n = keys.shape[0]
    order = np.arange(n).astype(np.int32)
    k = np.empty(n, np.uint64)
    if n < 2:
        for i in range(n):
            k[i] = 0
        return order, k
    lo = keys[0]
    hi = keys[0]
    for i in range(n):
        lo = min(lo, keys[i])
        hi = max(hi, keys[i])
    span = np.uint64(hi - lo)
    bits = 0
    while bits < 64 and (span >> np.uint64(bits)) > 0:
        bits += 1
    passes = (bits + 11) // 12
    digit = (bits + passes - 1) // passes if passes else 0
    mask = np.uint64((1 << digit) - 1)
    count = np.zeros((max(passes, 1), (1 << digit) + 1), np.int64)
    for i in range(n):  # every pass's histogram in one read
        v = np.uint64(keys[i] - lo)
        k[i] = v
        for p in range(passes):
            count[p, np.int64((v >> np.uint64(p * digit)) & mask) + 1] += 1
    tmp_o = np.empty(n, np.int32)
    tmp_k = np.empty(n, np.uint64)
    for p in range(passes):
        c = count[p]
        if c.max() == n:  # every key has the same digit here: the pass would move nothing
            continue
        for dv in range(1 << digit):
            c[dv + 1] += c[dv]
        s = np.uint64(p * digit)
        for i in range(n):
            d = np.int64((k[i] >> s) & mask)
            q = c[d]
            tmp_o[q] = order[i]
            tmp_k[q] = k[i]
            c[d] = q + 1
        order, tmp_o = tmp_o, order
        k, tmp_k = tmp_k, k
    return order, k


@njit(cache=True, nogil=True)
def break_ties(order: np.ndarray, sorted_ts: np.ndarray, key: np.ndarray) -> None:
    """Within runs of equal ``sorted_ts`` (the keys in ``order``), sort by ``key``:
    insertion sort for the usual short runs, a real sort for long ones (e.g. many links
    stamped alike)."""
    n = order.shape[0]
    start = 0
    while start < n:
        end = start + 1
        while end < n and sorted_ts[end] == sorted_ts[start]:
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
def time_numbering(codes: np.ndarray, n_links: int, order: np.ndarray, segs: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Renumber nodes by their first appearance in time order, and give both ends of
    the links in that order. The union loop then meets most new nodes at the next
    free number (sequential memory) instead of at a random hash position: at 10M
    links that halves the cache misses of the loop. Returns (ends a, ends b, new
    number of each old code, old code of each new number); nodes no link touches
    are numbered last. The old codes are the ``segs`` ranges [lo, hi)."""
    n_nodes = 0
    for s in range(segs.shape[0]):
        n_nodes += segs[s, 1] - segs[s, 0]
    new = np.full(segs[-1, 1], -1, np.int32)
    old = np.empty(n_nodes, np.int32)
    a = np.empty(n_links, np.int32)
    b = np.empty(n_links, np.int32)
    nxt = 0
    for k in range(order.shape[0]):
        j = order[k]
        x = codes[j]
        if new[x] < 0:
            new[x] = nxt
            old[nxt] = x
            nxt += 1
        a[k] = new[x]
        y = codes[n_links + j]
        if new[y] < 0:
            new[y] = nxt
            old[nxt] = y
            nxt += 1
        b[k] = new[y]
    for s in range(segs.shape[0]):
        for c in range(segs[s, 0], segs[s, 1]):
            if new[c] < 0:
                new[c] = nxt
                old[nxt] = c
                nxt += 1
    return a, b, new, old


def count_layout(caps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Where each type's id count lives in a node's row: (word, shift, mask per type,
    row width). A count never exceeds its cap (a merge over it is refused), so it
    fits in the cap's bit length, and the counts of two roots add word by word
    without carries. Default caps take 14 bits: one word, 8 bytes per node."""
    bits = [max(1, int(c).bit_length()) for c in caps]
    word = np.zeros(len(bits), np.int64)
    shift = np.zeros(len(bits), np.int64)
    w, used = 1, 0
    for t, nb in enumerate(bits):
        if used + nb > 31:  # bit 31 stays clear: a negative word marks a visited root later
            w, used = w + 1, 0
        word[t], shift[t] = w, used
        used += nb
    width = 2
    while width < w + 1:
        width *= 2
    mask = np.array([(1 << nb) - 1 for nb in bits], np.int64)
    return word, shift, mask, width


@njit(cache=True, nogil=True)
def union_capped(a: np.ndarray, b: np.ndarray, node_type: np.ndarray, caps: np.ndarray,
                 word: np.ndarray, shift: np.ndarray, mask: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Apply links ``a[k] - b[k]`` in order k = 0, 1, ...

    ``rec`` (n_nodes x width int32, see ``count_layout``) gets the node rows: column 0
    the parent, then the packed id counts per type. Returns flagged per link: over a
    cap, not merged."""
    n_nodes = node_type.shape[0]
    n_types = caps.shape[0]
    width = rec.shape[1]
    for i in range(n_nodes):
        rec[i, 0] = i
        for w in range(1, width):
            rec[i, w] = 0
        t = node_type[i]
        rec[i, word[t]] = np.int32(1 << shift[t])
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
            ca = (rec[ra, word[t]] >> shift[t]) & mask[t]
            cb = (rec[rb, word[t]] >> shift[t]) & mask[t]
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
        for w in range(1, width):
            rec[ra, w] += rec[rb, w]
    return flagged


@njit(cache=True, nogil=True)
def person_keys(rec: np.ndarray, rank: np.ndarray, h1: np.ndarray, h2: np.ndarray, code: np.ndarray,
                best_h1: np.ndarray, best: np.ndarray) -> None:
    """The person key of every component: the h1 of its node of lowest ``rank``
    (highest priority id type), then lowest (h1, h2). It depends only on the set of
    ids, never on numbering or the order links arrived in.

    One pass over the nodes (``rank``, ``h1`` per node; ``h2`` per ``code[node]``,
    read only when two nodes share an h1, i.e. after a 64-bit hash collision): every
    node's row gets its root in column 0 (full compression), each root's column 1
    (its counts are not needed any more) the rank of its best node so far as
    ``-(rank + 2)``, ``best_h1[root]`` that node's h1 and ``best[root]`` the node."""
    n = rec.shape[0]
    for i in range(n):
        r = _find(rec, i)
        rec[i, 0] = r
        cur = rec[r, 1]
        ri = rank[i]
        if cur >= 0:  # first visit of this root: no candidate yet
            better = True
        else:
            rb = -cur - 2
            better = ri < rb
            if ri == rb:
                hb = best_h1[r]
                better = h1[i] < hb or (h1[i] == hb and h2[code[i]] < h2[code[best[r]]])
        if better:
            rec[r, 1] = -ri - 2
            best_h1[r] = h1[i]
            best[r] = i


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


@njit(cache=True, nogil=True)
def hex_ids(keys: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """Rows ``lo:hi``: uint64 keys as ``p`` + 16 lower-case hex digits, 17 bytes each."""
    for k in range(lo, hi):
        v = keys[k]
        out[k, 0] = 112  # "p"
        for d in range(16):
            out[k, 16 - d] = _HEX[np.intp(v & np.uint64(15))]
            v = v >> np.uint64(4)
