"""Identity stitching benchmark: 10M string id links -> persons, and 100k incremental.

    .venv/bin/python benchmarks/identity_stitch.py [--links 10000000] [--new 100000]

Synthetic graph: ~4M persons; each has 1-3 anonymous ids (36-char UUID-like strings)
linked to its user id, 1 in 4 also an e-mail linked to the user id, and 1 in 1000
anonymous ids is a shared device identified by several users (capped). Prints wall and
CPU seconds per phase, the load average during each, and the peak RSS of the process:

- stitch: string ids -> codes, capped union-find in time order, person ids (in memory);
- stitch + id map: the same plus writing the id map as one Parquet file;
- full resolve: ``apply_links_table`` into an empty workspace (also stores the 10M
  links in ``identities`` and commits through the catalog);
- incremental: ``--new`` links (half touch existing persons) onto that workspace: only
  the touched persons' map rows are written (a delta), the base map is not rewritten.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def synth(n_links: int, seed: int, prefix: str = "") -> pa.Table:
    rng = np.random.default_rng(seed)
    persons = max(1, int(n_links / 2.5))
    person = rng.integers(0, persons, n_links)
    is_email = rng.random(n_links) < 0.2
    dev = rng.integers(0, 3, n_links)
    shared = rng.random(n_links) < 0.001
    anon_key = np.where(shared, rng.integers(0, 2000, n_links) * 7 + 10**12, person * 3 + dev)
    anon = pa.array([f"{prefix}{k:016x}-4a1b-9c2d-7e6f" for k in anon_key.tolist()])
    user = pa.array([f"{prefix}u-{p:012d}" for p in person.tolist()])
    email = pa.array([f"{prefix}{p:09d}@example.de" for p in person.tolist()])
    ts = pa.array((1_735_689_600_000_000 + rng.integers(0, 180 * 86_400, n_links) * 1_000_000),
                  pa.timestamp("us", tz="UTC"))
    return pa.table({
        "id_type_a": pc.if_else(pa.array(is_email), pa.scalar("user_id"), pa.scalar("anonymous_id")),
        "id_a": pc.if_else(pa.array(is_email), user, anon),
        "id_type_b": pc.if_else(pa.array(is_email), pa.scalar("email"), pa.scalar("user_id")),
        "id_b": pc.if_else(pa.array(is_email), email, user),
        "linked_at": ts,
    })


def cpu_s() -> float:
    """CPU seconds of this process (user + system): on a shared box the wall clock
    also counts the time other processes had the cores."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--links", type=int, default=10_000_000)
    ap.add_argument("--new", type=int, default=100_000)
    args = ap.parse_args()

    import pyarrow.parquet as pq

    from cxlens.identity import idmap
    from cxlens.identity.config import IdentityConfig
    from cxlens.identity.graph import Links, stitch
    from cxlens.identity.resolve import apply_links_table
    from cxlens.store.workspace import Workspace

    cfg = IdentityConfig()
    stitch(Links.from_table(synth(1000, 9)), cfg)  # JIT warm-up (cached on disk after the first run)
    t = time.perf_counter()
    table = synth(args.links, 1)
    print(f"generate {args.links:,} links: {time.perf_counter() - t:.2f} s (not counted)")

    t, c = time.perf_counter(), cpu_s()
    s = stitch(Links.from_table(table), cfg)
    stitch_s = time.perf_counter() - t
    stitch_cpu = cpu_s() - c
    print(f"stitch (encode + union-find + person ids): {stitch_s:.2f} s wall, {stitch_cpu:.2f} s CPU; "
          f"load {os.getloadavg()[0]:.1f}")
    persons = pc.count_distinct(s.person_id).as_py()
    print(f"  {len(s.id):,} ids -> {persons:,} persons, {int(s.flagged.sum()):,} links flagged")

    root = Path(tempfile.mkdtemp(prefix="cxlens-bench-"))
    try:
        t, c = time.perf_counter(), cpu_s()
        s = stitch(Links.from_table(table), cfg)
        pq.write_table(s.table(), root / "map.parquet", **idmap.PARQUET)
        print(f"stitch + write the id map (one Parquet file, {(root / 'map.parquet').stat().st_size / 1e6:.0f} MB):"
              f" {time.perf_counter() - t:.2f} s wall, {cpu_s() - c:.2f} s CPU; load {os.getloadavg()[0]:.1f}")
        del s
        ws = Workspace.init(root / "ws", project="bench")
        t, c = time.perf_counter(), cpu_s()
        res = apply_links_table(ws, "bench", table, cfg)
        full_s = time.perf_counter() - t
        print(f"full resolve into the workspace (stitch + write identities and id map): {full_s:.2f} s wall, "
              f"{cpu_s() - c:.2f} s CPU of this process (DuckDB threads included); "
              f"{res.persons:,} persons; load {os.getloadavg()[0]:.1f}")
        new = synth(args.new, 2, prefix="n")
        # half of the new links touch existing persons: reuse existing user ids
        old_users = table.column("id_b").slice(0, args.new // 2)
        mixed = pa.table({
            "id_type_a": new.column("id_type_a").slice(0, args.new // 2),
            "id_a": new.column("id_a").slice(0, args.new // 2),
            "id_type_b": table.column("id_type_b").slice(0, args.new // 2),
            "id_b": old_users,
            "linked_at": new.column("linked_at").slice(0, args.new // 2),
        })
        new = pa.concat_tables([mixed, new.slice(args.new // 2)])
        t, c = time.perf_counter(), cpu_s()
        inc = apply_links_table(ws, "bench", new, cfg)
        inc_s = time.perf_counter() - t
        print(f"incremental: {args.new:,} new links onto the {args.links:,}-link graph: {inc_s:.2f} s wall, "
              f"{cpu_s() - c:.2f} s CPU; {inc.affected_persons:,} persons re-keyed, "
              f"{inc.links_flagged:,} over a cap; load {os.getloadavg()[0]:.1f}")
        deltas = ws.catalog.live_files(idmap.DELTA, "bench")
        print(f"  map files: base {len(ws.catalog.live_files(idmap.MAP, 'bench'))}, deltas {len(deltas)} "
              f"({sum(f.rows for f in deltas):,} rows)")
        ws.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"peak RSS: {peak_rss_mb():,.0f} MB; load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
