"""Does an append get slower as its day grows? N successive appends of collector-like
events (uuid event ids, one day) into one workspace, the way the collector's WAL writer
appends during a soak.

Prints, every ``--every`` appends: events in the day, the mean wall and CPU seconds per
append over the last ``--every`` appends, the process RSS (current and peak) and the
day's file count. ``--compare SRC`` first runs the same appends with another source tree
(e.g. ``/work/main/src`` before a change) in a child process, then this tree, so both
sides see the same box:

    nice -n 5 python benchmarks/append_growth.py --appends 400 --compare /work/main/src \\
        --compare-appends 120

CPU seconds (``time.process_time``: every thread of the process, DuckDB's included) are
the figure to compare on a shared box; wall seconds follow the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

EVENTS = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started", "Order Completed",
          "Search", "Signed In", "Newsletter Subscribed"]
DAY = datetime(2026, 11, 23, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def batch(i: int, n: int) -> pa.Table:
    """The i-th batch: n events with fresh uuid ids, all on DAY (seeded by i)."""
    rng = np.random.default_rng(i)
    base = int(DAY.timestamp() * 1e6) + int(i * 200_000)  # time goes on, within the day
    stamps = base + np.sort(rng.integers(0, 200_000, n)).astype(np.int64)
    persons = rng.integers(0, 200_000, n)
    names = rng.integers(0, len(EVENTS), n)
    raw = rng.bytes(16 * n)
    ids = [str(uuid.UUID(bytes=raw[j * 16:(j + 1) * 16])) for j in range(n)]
    props = [orjson.dumps({"sku": f"sku-{p % 5000}", "price": round(float(p % 997) / 7, 2),
                           "list": "search"}).decode() for p in persons.tolist()]
    ctx = [orjson.dumps({"page": {"path": f"/p/{p % 300}", "url": f"https://shop.example/p/{p % 300}"},
                         "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0",
                         "ip": "10.1.2.0", "locale": "de-DE"}).decode() for p in persons.tolist()]
    return pa.table({
        "event_id": ids,
        "timestamp": pa.array(stamps, pa.int64()).cast(TS),
        "received_at": pa.array(stamps + 50_000, pa.int64()).cast(TS),
        "type": ["track"] * n,
        "event": pa.array([EVENTS[k] for k in names.tolist()]),
        "anonymous_id": [f"anon-{p}" for p in persons.tolist()],
        "user_id": [f"user-{p}" if p % 3 == 0 else None for p in persons.tolist()],
        "properties": props,
        "context": ctx,
    })


def rss_mb() -> tuple[float, float]:
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def run(path: Path, appends: int, size: int, every: int, label: str, seconds: float) -> None:
    from cxlens.store.workspace import Workspace

    ws = Workspace.init(path)
    wall = cpu = 0.0
    started = time.monotonic()
    print(f"[{label}] appends of {size:,} events into one day; every {every} appends:", flush=True)
    print(f"[{label}] {'append':>6} {'events':>11} {'wall s/app':>10} {'cpu s/app':>9} "
          f"{'rss MB':>7} {'peak MB':>7} {'files':>5}", flush=True)
    for i in range(appends):
        table = batch(i, size)
        w0, c0 = time.perf_counter(), time.process_time()
        ws.append(table, source="collector", kind="collector")
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        last = i == appends - 1 or time.monotonic() - started > seconds
        if (i + 1) % every == 0 or last:
            k = (i % every) + 1
            files = ws.event_files()
            now, peak = rss_mb()
            print(f"[{label}] {i + 1:>6} {sum(f.rows for f in files):>11,} {wall / k:>10.3f} "
                  f"{cpu / k:>9.3f} {now:>7.0f} {peak:>7.0f} {len(files):>5}", flush=True)
            wall = cpu = 0.0
        if last:
            break
    # a retry of the last batch is stored once (the idempotency the index keeps)
    res = ws.append(batch(i, size), source="collector", kind="collector")
    print(f"[{label}] retry of the last batch: inserted {res.inserted}, duplicates {res.duplicates}",
          flush=True)
    ws.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=400)
    ap.add_argument("--size", type=int, default=50_000)
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=3600, help="stop a side after this long")
    ap.add_argument("--compare", metavar="SRC", help="first run the appends with this source tree")
    ap.add_argument("--compare-appends", type=int, help="appends for the --compare side")
    ap.add_argument("--label", default="this tree")
    ap.add_argument("--dir", type=Path, help="where to put the workspaces (default: a temp dir)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="append-growth-", dir=args.dir))
    try:
        if args.compare:
            env = {**os.environ, "PYTHONPATH": args.compare}
            subprocess.run([sys.executable, __file__, "--appends", str(args.compare_appends or args.appends),
                            "--size", str(args.size), "--every", str(args.every),
                            "--seconds", str(args.seconds), "--label", args.compare,
                            "--dir", str(base)], env=env, check=False)
            child = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(f"[{args.compare}] process peak RSS {child.ru_maxrss / 1024:,.0f} MB", flush=True)
            for p in base.iterdir():
                shutil.rmtree(p, ignore_errors=True)
        run(base / "ws", args.appends, args.size, args.every, args.label, args.seconds)
        print(f"[{args.label}] process peak RSS {rss_mb()[1]:,.0f} MB", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
