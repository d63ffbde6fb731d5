"""Sorting a project's events by (person, timestamp, event, event_id) without strings.

DuckDB sorts 100M rows keyed by person id strings and event ids slowly (the keys are
long strings and spill). The sequence cache (``engines/sequences.py``) only needs
each person's events together, ordered by (timestamp, event name, event id), and the
persons in any fixed order. So the rows come out of DuckDB unsorted with integer
keys — a 64-bit hash of the person id, the timestamp, the event name's rank, a hash of
the event id — and are sorted here: a counting sort on the person hash's top bits into
buckets, then per bucket (in parallel) an argsort by person hash and an insertion sort
of each person's few rows by (timestamp, event rank, event id hash). Rows equal in
(person, timestamp, event rank) are the only ones whose order needs the event id
itself; ``tie_groups`` finds them so the caller can order them by the real ids.
"""

from __future__ import annotations

import numba as nb
import numpy as np

BUCKET_BITS = 16


@nb.njit(cache=True, nogil=True)
def _bucket_order(ph: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    nb_ = 1 << bits
    shift = np.uint64(64 - bits)
    counts = np.zeros(nb_ + 1, dtype=np.int64)
    for i in range(ph.shape[0]):
        counts[np.int64(ph[i] >> shift) + 1] += 1
    for b in range(nb_):
        counts[b + 1] += counts[b]
    pos = counts[:-1].copy()
    out = np.empty(ph.shape[0], dtype=np.int64)
    for i in range(ph.shape[0]):
        k = np.int64(ph[i] >> shift)
        out[pos[k]] = i
        pos[k] += 1
    return out, counts


@nb.njit(cache=True, nogil=True)
def _less(a: np.int64, b: np.int64, ts: np.ndarray, rank: np.ndarray, eh: np.ndarray) -> bool:
    if ts[a] != ts[b]:
        return bool(ts[a] < ts[b])
    if rank[a] != rank[b]:
        return bool(rank[a] < rank[b])
    return bool(eh[a] < eh[b])


@nb.njit(cache=True, nogil=True, parallel=True)
def _sort_buckets(order: np.ndarray, bounds: np.ndarray, ph: np.ndarray, ts: np.ndarray,
                  rank: np.ndarray, eh: np.ndarray) -> None:
    for b in nb.prange(bounds.shape[0] - 1):
        lo = bounds[b]
        hi = bounds[b + 1]
        if hi - lo < 2:
            continue
        idx = order[lo:hi].copy()
        keys = ph[idx]
        by_person = np.argsort(keys, kind="mergesort")
        idx = idx[by_person]
        keys = keys[by_person]
        start = 0
        n = hi - lo
        while start < n:
            end = start + 1
            while end < n and keys[end] == keys[start]:
                end += 1
            for i in range(start + 1, end):  # insertion sort: runs are short, mostly sorted
                v = idx[i]
                j = i - 1
                while j >= start and _less(v, idx[j], ts, rank, eh):
                    idx[j + 1] = idx[j]
                    j -= 1
                idx[j + 1] = v
            start = end
        order[lo:hi] = idx


def sort_rows(ph: np.ndarray, ts: np.ndarray, rank: np.ndarray, eh: np.ndarray) -> np.ndarray:
    """The permutation ordering rows by (ph, ts, rank, eh); ph groups persons."""
    if ph.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    bits = BUCKET_BITS if ph.shape[0] > 1 << 20 else 8
    order, bounds = _bucket_order(ph, bits)
    _sort_buckets(order, bounds, ph, ts, rank, eh)
    return order


@nb.njit(cache=True, nogil=True)
def tie_groups(ph: np.ndarray, ts: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Start offsets of runs of >= 2 sorted rows equal in (ph, ts, rank), plus their ends
    (pairs: starts[k], ends[k] interleaved)."""
    out = np.empty(2 * ph.shape[0] + 2, dtype=np.int64)
    n = 0
    i = 0
    while i < ph.shape[0]:
        j = i + 1
        while j < ph.shape[0] and ph[j] == ph[i] and ts[j] == ts[i] and rank[j] == rank[i]:
            j += 1
        if j - i > 1:
            out[n] = i
            out[n + 1] = j
            n += 2
        i = j
    return out[:n]


@nb.njit(cache=True, nogil=True)
def same_within(ph: np.ndarray, ph2: np.ndarray) -> bool:
    """True when ``ph2`` is constant within every run of equal ``ph`` (no two persons
    share ``ph``: the second, independent hash would differ)."""
    ok = True
    for i in range(1, ph.shape[0]):
        if ph[i] == ph[i - 1] and ph2[i] != ph2[i - 1]:
            ok = False
            break
    return ok


@nb.njit(cache=True, nogil=True)
def run_codes(ph: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... per run of equal values."""
    out = np.empty(ph.shape[0], dtype=np.int32)
    code = -1
    for i in range(ph.shape[0]):
        if i == 0 or ph[i] != ph[i - 1]:
            code += 1
        out[i] = code
    return out
