"""String ids -> dense int32 node codes, without copying or sorting the strings.

A node is an (id type, id) pair. Each row of an Arrow string column (chunk by chunk,
straight from its offsets and data buffers) gets two independent 64-bit hashes in one
pass; rows are then radix-partitioned on the top bits of the first hash into
cache-sized partitions and deduplicated inside each by a small open-addressing table.
Equal (h1, h2) is the same id: a false match needs a 128-bit collision. Two ids with
the same h1 but different h2 are detected and the caller falls back to the exact
table (``exact_codes``) that compares bytes.

Measured (benchmarks/RESULTS.md, Identity): the earlier argsort of 20M hashes was
the largest phase of a 10M-link stitch; partitioning touches every row twice,
sequentially, and each partition's table stays in the L2 cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np
import pyarrow as pa
from numba import njit

from cxlens.errors import ConfigError

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_ALT = 977  # the second hash mixes in type + _ALT


@njit(cache=True, nogil=True, inline="always")
def _finish(h: np.uint64, length: int) -> np.uint64:
    h = h ^ np.uint64(length)
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True, nogil=True)
def hash_rows(offsets: np.ndarray, data: np.ndarray, types: np.ndarray,
              h1: np.ndarray, h2: np.ndarray, start: int) -> None:
    """Two 64-bit hashes of every (type, bytes) row, written at ``start``: eight bytes
    per multiply, then a splitmix64 finish. ``h1`` is stable across runs and machines
    (person ids are derived from it) and equals the hash cxlens has always used."""
    n = offsets.shape[0] - 1
    for i in range(n):
        t = types[start + i]
        a = (_FNV_OFFSET ^ np.uint64(t + 1)) * _FNV_PRIME
        b = (_FNV_OFFSET ^ np.uint64(t + _ALT + 1)) * _FNV_PRIME
        k = offsets[i]
        end = offsets[i + 1]
        while k + 8 <= end:
            w = (np.uint64(data[k]) | (np.uint64(data[k + 1]) << np.uint64(8))
                 | (np.uint64(data[k + 2]) << np.uint64(16)) | (np.uint64(data[k + 3]) << np.uint64(24))
                 | (np.uint64(data[k + 4]) << np.uint64(32)) | (np.uint64(data[k + 5]) << np.uint64(40))
                 | (np.uint64(data[k + 6]) << np.uint64(48)) | (np.uint64(data[k + 7]) << np.uint64(56)))
            a = (a ^ w) * _FNV_PRIME
            a = a ^ (a >> np.uint64(29))
            b = (b ^ w) * _FNV_PRIME
            b = b ^ (b >> np.uint64(29))
            k += 8
        while k < end:
            c = np.uint64(data[k])
            a = (a ^ c) * _FNV_PRIME
            b = (b ^ c) * _FNV_PRIME
            k += 1
        length = end - offsets[i]
        h1[start + i] = _finish(a, length)
        h2[start + i] = _finish(b, length)


@njit(cache=True, nogil=True)
def match_types(offsets: np.ndarray, data: np.ndarray, name_offsets: np.ndarray,
                name_data: np.ndarray, out: np.ndarray, start: int) -> int:
    """Type code of every row (index of the equal name), written at ``start``;
    returns the first row (local) whose type is no known name, else -1."""
    n = offsets.shape[0] - 1
    n_names = name_offsets.shape[0] - 1
    last = 0
    for i in range(n):
        s, e = offsets[i], offsets[i + 1]
        found = -1
        for probe in range(n_names):
            j = (last + probe) % n_names  # rows of one type come in runs: try the last first
            ns, ne = name_offsets[j], name_offsets[j + 1]
            if ne - ns != e - s:
                continue
            same = True
            for k in range(e - s):
                if data[s + k] != name_data[ns + k]:
                    same = False
                    break
            if same:
                found = j
                break
        if found < 0:
            return i
        out[start + i] = found
        last = found
    return -1


@njit(cache=True, nogil=True)
def part_counts(h1: np.ndarray, shift: int, n_parts: int, lo: int, hi: int) -> np.ndarray:
    """Rows ``lo:hi`` per partition (the top bits of h1)."""
    count = np.zeros(n_parts, np.int64)
    s = np.uint64(shift)
    for i in range(lo, hi):
        count[np.int64(h1[i] >> s)] += 1
    return count


@njit(cache=True, nogil=True)
def part_scatter(h1: np.ndarray, shift: int, lo: int, hi: int, fill: np.ndarray,
                 rows: np.ndarray, ph: np.ndarray) -> None:
    """Rows ``lo:hi`` (and their h1) into their partitions from ``fill`` on: threads
    scatter ascending row ranges to ascending places, so rows stay ascending inside
    a partition."""
    s = np.uint64(shift)
    for i in range(lo, hi):
        part = np.int64(h1[i] >> s)
        q = fill[part]
        rows[q] = i
        ph[q] = h1[i]
        fill[part] = q + 1


@njit(cache=True, nogil=True)
def part_codes(start: np.ndarray, p_lo: int, p_hi: int, rows: np.ndarray, ph: np.ndarray, h2: np.ndarray,
               codes: np.ndarray, first: np.ndarray, node_h1: np.ndarray, node_h2: np.ndarray) -> int:
    """Codes by (h1, h2) for the partitions ``p_lo:p_hi``, each deduplicated by a small
    open-addressing table that stays in the cache. The codes count from ``start[p_lo]``
    (no range has more codes than rows, so ranges never overlap): ``codes[row]``, and
    the codes' first row, h1 and h2 in ``first``, ``node_h1``, ``node_h2``. Returns the
    number of codes, or -1 when two rows share h1 but not h2 (then nothing else is
    valid)."""
    base = start[p_lo]
    biggest = np.int64(0)
    for p in range(p_lo, p_hi):
        biggest = max(biggest, start[p + 1] - start[p])
    size = 16
    while size < 2 * biggest:
        size *= 2
    slot_code = np.full(size, -1, np.int32)
    used = np.empty(biggest + 1, np.int64)
    n_codes = 0
    for p in range(p_lo, p_hi):
        s, e = start[p], start[p + 1]
        if s == e:
            continue
        m = 16
        while m < 2 * (e - s):
            m *= 2
        mask = np.uint64(m - 1)
        n_used = 0
        for q in range(s, e):
            h = ph[q]
            slot = np.int64(h & mask)
            while True:
                c = slot_code[slot]
                if c < 0:
                    slot_code[slot] = n_codes
                    used[n_used] = slot
                    n_used += 1
                    r = rows[q]
                    first[base + n_codes] = r
                    node_h1[base + n_codes] = h
                    node_h2[base + n_codes] = h2[r]
                    codes[r] = base + n_codes
                    n_codes += 1
                    break
                if node_h1[base + c] == h:
                    r = rows[q]
                    if node_h2[base + c] != h2[r]:
                        return -1
                    codes[r] = base + c
                    break
                slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)
        for u in range(n_used):  # reset only the slots this partition used
            slot_code[used[u]] = -1
    return n_codes


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
def exact_codes(offsets: np.ndarray, data: np.ndarray, types: np.ndarray, h1: np.ndarray,
                h2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense codes by open addressing on h1, confirmed bytewise: never merges two ids
    (used only after a 64-bit collision). Returns codes, first rows, h1, h2 per code."""
    n = offsets.shape[0] - 1
    size = 16
    while size < 2 * n + 2:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int32)
    codes = np.empty(n, np.int32)
    first = np.empty(n, np.int32)
    n_codes = 0
    for i in range(n):
        slot = np.int64(h1[i] & mask)
        while True:
            c = table[slot]
            if c < 0:
                table[slot] = n_codes
                first[n_codes] = i
                codes[i] = n_codes
                n_codes += 1
                break
            j = first[c]
            if h1[j] == h1[i] and types[j] == types[i] and _equal(offsets, data, i, j):
                codes[i] = c
                break
            slot = np.int64((np.uint64(slot) + np.uint64(1)) & mask)
    f = first[:n_codes].copy()
    return codes, f, h1[f], h2[f]


def _string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (int32, or int64 for large strings) and data of one string chunk, without
    copying either: the kernels are compiled for both offset widths."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    wide = pa.types.is_large_string(arr.type)
    _, offs, data = arr.buffers()
    offsets = np.frombuffer(offs, np.int64 if wide else np.int32, count=len(arr) + 1,
                            offset=arr.offset * (8 if wide else 4))
    payload = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return offsets, payload


def _chunks(col: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(col.chunks) if isinstance(col, pa.ChunkedArray) else [col]


def _threads() -> int:
    """Worker threads for per-chunk kernels (they release the GIL): the cores we may use."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, min(4, os.cpu_count() or 1))


_JOB_ROWS = 1 << 20  # big chunks are cut into slices (zero-copy) so every core gets work


def _each_chunk(columns: list[pa.Array | pa.ChunkedArray], fn: Callable[[pa.Array, int], None]) -> None:
    """``fn(chunk, first row)`` for every chunk of ``columns`` laid end to end, on threads."""
    jobs = []
    pos = 0
    for col in columns:
        for chunk in _chunks(col):
            for at in range(0, len(chunk), _JOB_ROWS):
                part = chunk.slice(at, _JOB_ROWS) if len(chunk) > _JOB_ROWS else chunk
                jobs.append((part, pos + at))
            pos += len(chunk)
    if len(jobs) < 2 or pos < 100_000:
        for chunk, at in jobs:
            fn(chunk, at)
        return
    with ThreadPoolExecutor(_threads()) as pool:
        for f in [pool.submit(fn, chunk, at) for chunk, at in jobs]:
            f.result()


def ranges(n: int, fn: Callable[[int, int], None]) -> None:
    """``fn(lo, hi)`` over ``0..n`` cut into one range per core, on threads (for
    kernels that release the GIL and write disjoint rows)."""
    parts = _threads() if n >= 100_000 else 1
    bounds = [n * k // parts for k in range(parts + 1)]
    if parts == 1:
        fn(0, n)
        return
    with ThreadPoolExecutor(parts) as pool:
        for f in [pool.submit(fn, lo, hi) for lo, hi in pairwise(bounds)]:
            f.result()


def type_codes(columns: list[pa.Array | pa.ChunkedArray], names: list[str]) -> np.ndarray:
    """int8 type code of every row of the id-type ``columns``, one after the other."""
    name_bytes = [n.encode() for n in names]
    name_offsets = np.cumsum([0] + [len(b) for b in name_bytes], dtype=np.int64)
    name_data = np.frombuffer(b"".join(name_bytes), np.uint8)
    out = np.empty(sum(len(c) for c in columns), np.int8)

    def one(chunk: pa.Array, pos: int) -> None:
        if chunk.null_count:
            raise ConfigError("an id link has no id type; every link needs the type of both ids")
        offsets, data = _string_buffers(chunk)
        bad = match_types(offsets, data, name_offsets, name_data, out, pos)
        if bad >= 0:
            name = chunk[bad].as_py()
            raise ConfigError(
                f"unknown id type {name!r}; declare it under [identity.id_types.{name}] in cxlens.toml")

    _each_chunk(columns, one)
    return out


def hashes(columns: list[pa.Array | pa.ChunkedArray], types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h1, h2) of every row of the id ``columns`` with their ``types``."""
    n = types.shape[0]
    h1 = np.empty(n, np.uint64)
    h2 = np.empty(n, np.uint64)

    def one(chunk: pa.Array, pos: int) -> None:
        if chunk.null_count:
            raise ConfigError("an id link has an empty id; every link needs two ids")
        offsets, data = _string_buffers(chunk)
        hash_rows(offsets, data, types, h1, h2, pos)

    _each_chunk(columns, one)
    return h1, h2


def take_mask(columns: list[pa.Array | pa.ChunkedArray], mask: np.ndarray) -> pa.ChunkedArray:
    """The strings at the rows where ``mask`` is set, of ``columns`` laid end to end:
    a boolean filter per chunk, one sequential pass (Arrow's take over 150 chunks
    searched the chunk of every index and cost 4x as much at 10M links)."""
    out: list[pa.Array] = []
    pos = 0
    for col in columns:
        for chunk in _chunks(col):
            part = chunk.filter(pa.array(mask[pos : pos + len(chunk)]))
            out.append(part.cast(pa.string()) if part.type != pa.string() else part)
            pos += len(chunk)
    return pa.chunked_array(out, pa.string())


def radix_codes(h1: np.ndarray, h2: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes for rows by (h1, h2): rows are partitioned on the top bits of h1
    (histogram and scatter per row range), and the partitions deduplicated in one
    contiguous range of partitions per core.

    Returns (code per row, first row, h1 and h2 per code, segments): the codes of a
    range count from its first row's place, so the code space has gaps; ``segments``
    (k x 2) are the [lo, hi) ranges of valid codes. Closing the gaps would cost a
    random write per row; ``time_numbering`` renumbers densely anyway. Empty
    segments mean two rows share h1 but not h2 (nothing else is valid then)."""
    n = h1.shape[0]
    bits = 1
    while (n >> bits) > 2048 and bits < 16:
        bits += 1
    n_parts, shift = 1 << bits, 64 - bits
    k = _threads() if n >= 1_000_000 else 1
    cuts = [n * t // k for t in range(k + 1)]
    per: list[np.ndarray] = [np.empty(0, np.int64)] * k

    def hist(t: int) -> None:
        per[t] = part_counts(h1, shift, n_parts, cuts[t], cuts[t + 1])

    _run(k, hist)
    counts = np.stack(per)  # (row range, partition)
    start = np.zeros(n_parts + 1, np.int64)
    np.cumsum(counts.sum(axis=0), out=start[1:])
    fills = [start[:-1] + counts[:t].sum(axis=0) for t in range(k)]
    rows = np.empty(n, np.int32)
    ph = np.empty(n, np.uint64)
    _run(k, lambda t: part_scatter(h1, shift, cuts[t], cuts[t + 1], fills[t], rows, ph))
    # partition ranges with about the same number of rows each
    pcut = [0, *[int(np.searchsorted(start, n * t // k)) for t in range(1, k)], n_parts]
    codes = np.empty(n, np.int32)
    first = np.empty(n, np.int32)
    node_h1 = np.empty(n, np.uint64)
    node_h2 = np.empty(n, np.uint64)
    found = [0] * k

    def dedup(t: int) -> None:
        found[t] = part_codes(start, pcut[t], pcut[t + 1], rows, ph, h2, codes, first, node_h1, node_h2)

    _run(k, dedup)
    if min(found) < 0:
        return codes, first, node_h1, node_h2, np.zeros((0, 2), np.int64)
    segs = np.array([[start[pcut[t]], start[pcut[t]] + found[t]] for t in range(k)], np.int64)
    return codes, first, node_h1, node_h2, segs


def _run(k: int, fn: Callable[[int], None]) -> None:
    """``fn(0..k-1)`` on k threads (kernels that release the GIL)."""
    if k == 1:
        fn(0)
        return
    with ThreadPoolExecutor(k) as pool:
        for f in [pool.submit(fn, t) for t in range(k)]:
            f.result()


def encode(columns: list[pa.Array | pa.ChunkedArray], types: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Node codes for the (type, id) rows of ``columns``.

    Returns (code per row, first row, h1 and h2 per code, h1 of each row, segments
    of valid codes: see ``radix_codes``)."""
    h1, h2 = hashes(columns, types)
    codes, first, n1, n2, segs = radix_codes(h1, h2)
    if len(segs):
        return codes, first, n1, n2, h1, segs
    # a 64-bit collision between two different ids: compare the bytes (rare, slower)
    whole = pa.concat_arrays([c.cast(pa.large_string()) for col in columns for c in _chunks(col)])
    offsets, data = _string_buffers(whole)
    c, f, e1, e2 = exact_codes(offsets, data, types, h1, h2)
    return c, f, e1, e2, h1, np.array([[0, len(f)]], np.int64)
