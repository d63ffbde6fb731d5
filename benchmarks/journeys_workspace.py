"""A workspace of synthetic journey events for the end-to-end journey benchmark.

    python benchmarks/journeys_workspace.py /work/bench-data/ws100m --events 100000000

The same events as ``journeys_bench.generate`` (persons, times, event names), laid out
as a real cxlens workspace after ``cxlens compact`` and ``cxlens identity resolve``:

- one zstd Parquet file per day under ``events/project=bench/date=D/``, sorted as
  compaction sorts (``coalesce(user_id, anonymous_id), timestamp, event_id``), every
  file registered in the catalog;
- each person has a 36-character anonymous id; 40 % also log in: from a random event
  on their events carry a user id too (``user-<n>``); a resolved ``identity_map`` maps
  both ids of those persons to one ``p<16 hex>`` person id, so an analysis that counts
  resolved persons has to join it (the other persons count under their anonymous id);
- 32-hex-digit event ids (what content-derived ids look like).

Files are written directly (the store's import path runs at ~0.2M events/s, which
would make a 100M-event workspace a matter of hours on this box); the layout, schema and
catalog entries are the ones ``Workspace.compact`` and ``identity.resolve`` produce.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from journeys_bench import NAMES, START, sequences

from cxlens.identity import store
from cxlens.identity.resolve import MAP, MAP_SCHEMA
from cxlens.model.events import FILE_SCHEMA
from cxlens.store.workspace import Workspace

PROJECT = "bench"
DAY_US = 86_400 * 10**6
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def hex_strings(values: np.ndarray, digits: int, prefix: bytes = b"",
                dashes: tuple[int, ...] = ()) -> pa.Array:
    """uint64 values as fixed-width hex strings, built from buffers (no Python loop)."""
    n = len(values)
    width = len(prefix) + digits + len(dashes)
    out = np.empty((n, width), np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix, np.uint8) if prefix else 0
    v = values.astype(np.uint64).copy()
    pos = [i for i in range(len(prefix), width) if i - len(prefix) not in dashes]
    for d in dashes:
        out[:, len(prefix) + d] = ord("-")
    for col in reversed(pos):
        out[:, col] = _HEX[(v & np.uint64(15)).astype(np.intp)]
        v >>= np.uint64(4)
        if not v.any():  # more digits than 64 bits give: mix the value again
            v = (values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(col)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


def build(root: Path, n: int, seed: int = 1) -> dict[str, float]:
    t0 = time.perf_counter()
    rng, person, ts, codes = sequences(n, seed)
    persons = max(n // 25, 1)
    first = np.concatenate(([0], np.flatnonzero(np.diff(person)) + 1))
    sizes = np.diff(np.append(first, n))
    # identities: 40 % of persons log in at a random event of theirs
    logs_in = rng.random(persons) < 0.4
    login_at = np.zeros(persons, np.int64)
    pidx = np.unique(person)
    login_at[pidx] = rng.integers(0, np.maximum(sizes, 1))
    rank = np.arange(n) - np.repeat(first, sizes)
    has_user = logs_in[person] & (rank >= login_at[person])
    del rank
    pid_hash = (np.arange(persons, dtype=np.uint64) + np.uint64(seed)) * np.uint64(
        0xBF58476D1CE4E5B9)
    anon = hex_strings(pid_hash ^ np.uint64(0x94D049BB133111EB), 32, dashes=(8, 13, 18, 23))
    user = pc.binary_join_element_wise(
        pa.repeat("user-", persons), pa.array(np.arange(persons)).cast(pa.string()), "")
    resolved = np.flatnonzero(logs_in)
    pid = hex_strings(pid_hash[resolved], 16, prefix=b"p")
    idmap = pa.table({
        "id_type": pa.array(["anonymous_id"] * len(resolved) + ["user_id"] * len(resolved)),
        "id": pa.concat_arrays([anon.take(pa.array(resolved)), user.take(pa.array(resolved))]),
        "person_id": pa.concat_arrays([pid, pid]),
    })
    day = (ts - START) // DAY_US
    order = np.argsort(day, kind="stable")
    bounds = np.searchsorted(day[order], np.arange(day.min(), day.max() + 2))
    t_gen = time.perf_counter() - t0

    ws = Workspace.init(root, project=PROJECT)
    batch = ws.catalog.start_batch("compact", "bench", PROJECT)
    rows: list[tuple[str, str, str, int, int, int, float, int]] = []
    names = pa.array(NAMES)
    ids = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    for d in range(len(bounds) - 1):
        sel = order[bounds[d]:bounds[d + 1]]
        if not len(sel):
            continue
        per = person[sel]
        stamp = pa.array(ts[sel], pa.timestamp("us", tz="UTC"))
        user_col = user.take(pa.array(per, mask=~has_user[sel]))
        table = pa.table({
            "event_id": hex_strings(ids[sel], 32),
            "timestamp": stamp, "received_at": stamp,
            "type": pa.repeat("track", len(sel)),
            "event": names.take(pa.array(codes[sel])),
            "anonymous_id": anon.take(pa.array(per)),
            "user_id": user_col,
            "source": pa.repeat("bench", len(sel)),
        })
        key = pc.coalesce(table.column("user_id"), table.column("anonymous_id"))
        table = table.append_column("_k", key).sort_by(
            [("_k", "ascending"), ("timestamp", "ascending"), ("event_id", "ascending")])
        table = table.drop_columns(["_k"])
        full = pa.table({f.name: table.column(f.name) if f.name in table.column_names
                         else pa.nulls(len(table), f.type) for f in FILE_SCHEMA},
                        schema=FILE_SCHEMA)
        date = np.datetime64(int(START // 10**6 + (day.min() + d) * 86400), "s").astype(
            "datetime64[D]")
        rel = f"events/project={PROJECT}/date={date}/part-c{batch}-bench.parquet"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(full, root / rel, compression="zstd")
        rows.append((rel, "events", PROJECT, str(date), len(table), (root / rel).stat().st_size,
                     batch, 1))
    with ws.catalog.transaction() as db:
        db.executemany(
            "INSERT INTO files (path, tbl, project, part, rows, bytes, batch_id, created_at, sorted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], time.time(), r[7]) for r in rows])
        db.execute("UPDATE batches SET finished_at = ?, rows_in = ?, inserted = ? WHERE id = ?",
                   (time.time(), n, n, batch))
    with ws.writing():
        store.commit(ws, MAP, PROJECT, [idmap], schema=MAP_SCHEMA)
    ws.close()
    return {"events": n, "persons": len(pidx), "resolved_persons": len(resolved),
            "files": len(rows), "generate_s": t_gen, "total_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--events", type=int, default=10_000_000)
    args = ap.parse_args()
    print(build(args.root, args.events))


if __name__ == "__main__":
    main()
