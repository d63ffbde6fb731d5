"""Helpers shared by the per-person kernels: person runs and string codes from Arrow."""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def person_starts(person: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row offsets where each person's run starts, plus the end (length persons + 1).

    Rows arrive sorted by person, so a run starts wherever the id differs from the row
    before; the ids themselves are never hashed or compared beyond that.
    """
    n = len(person)
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    arr = person.combine_chunks() if isinstance(person, pa.ChunkedArray) else person
    if pa.types.is_dictionary(arr.type):  # person codes (engines/sequences.py)
        arr = arr.indices
    changed = pc.not_equal(arr.slice(1), arr.slice(0, n - 1))
    flags = np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
    idx = np.flatnonzero(flags).astype(np.int64) + 1
    return np.concatenate(([0], idx, [n])).astype(np.int64)


def encode(values: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, pa.Array]:
    """int32 codes (-1 for null) and the dictionary of distinct strings."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        return _recode(arr)
    enc = pc.dictionary_encode(arr)
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False),
                       dtype=np.int32)
    return codes, enc.dictionary


@nb.njit(cache=True, nogil=True)
def _first_seen(idx: np.ndarray, size: int) -> np.ndarray:
    """Per dictionary code, the first row using it (-1: unused); -1 rows are nulls."""
    first = np.full(size, -1, dtype=np.int64)
    for i in range(idx.shape[0]):
        k = idx[i]
        if k >= 0 and first[k] < 0:
            first[k] = i
    return first


def _recode(arr: pa.DictionaryArray) -> tuple[np.ndarray, pa.Array]:
    """What ``dictionary_encode`` gives for the decoded strings, without decoding them:
    the values that occur, numbered in order of first appearance (the dictionary's
    values must be distinct)."""
    idx = np.asarray(pc.fill_null(arr.indices, -1).to_numpy(zero_copy_only=False),
                     dtype=np.int32)
    first = _first_seen(idx, len(arr.dictionary))
    seen = np.flatnonzero(first >= 0)
    seen = seen[np.argsort(first[seen], kind="stable")]
    remap = np.full(len(arr.dictionary) + 1, -1, dtype=np.int32)
    remap[seen] = np.arange(len(seen), dtype=np.int32)
    codes = remap[idx]  # idx -1 lands on the last entry, which stays -1
    return codes, arr.dictionary.take(pa.array(seen))


def int64_column(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.int64)


def take_strings(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
    """Strings for codes, null where the code is -1."""
    idx = pa.array(codes, mask=codes < 0, type=pa.int32())
    return dictionary.take(idx) if len(dictionary) else pa.nulls(len(codes), pa.string())


@nb.njit(cache=True, nogil=True)
def _distinct_dense(keys: np.ndarray, person: np.ndarray, nkeys: int) -> np.ndarray:
    out = np.zeros(nkeys, dtype=np.int64)
    last = np.full(nkeys, -1, dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        if last[k] != person[i]:
            out[k] += 1
            last[k] = person[i]
    return out


def distinct_persons(keys: np.ndarray, person: np.ndarray, nkeys: int) -> np.ndarray:
    """For keys 0..nkeys-1, how many distinct persons have each; ``person`` must be
    non-decreasing (rows come person by person), so one pass with a "last person seen"
    per key suffices, no sort."""
    return _distinct_dense(keys.astype(np.int64), person.astype(np.int64), int(nkeys))


def sorted_unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique values, inverse) by one sort; NumPy 2.4's hash-based unique is slower here."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    first = np.ones(len(s), dtype=bool)
    if len(s):
        first[1:] = s[1:] != s[:-1]
    ids = np.cumsum(first) - 1
    inverse = np.empty(len(s), dtype=np.int64)
    inverse[order] = ids
    return s[first], inverse


@nb.njit(cache=True, nogil=True)
def sequence_hashes(offsets: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """One 64-bit hash per sequence ``codes[offsets[t]:offsets[t + 1]]`` (FNV-1a over the
    codes plus the length): equal sequences hash equal, so paths and variants can be
    grouped by a sort of integers instead of by lists."""
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    prime = np.uint64(1099511628211)
    for t in range(offsets.shape[0] - 1):
        h = np.uint64(14695981039346656037)
        for i in range(offsets[t], offsets[t + 1]):
            h = (h ^ np.uint64(codes[i] + 1)) * prime
        out[t] = (h ^ np.uint64(offsets[t + 1] - offsets[t])) * prime
    return out
