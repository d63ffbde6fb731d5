"""Scale benchmark of the journey simulator: events, seconds, events/s and peak RSS.

    python benchmarks/simulate_scale.py --customers 100000 --business shop

Simulates into a fresh temporary workspace (removed afterwards unless --keep) and prints
one JSON line. Peak RSS is the process high-water mark from getrusage (Linux: KiB).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--business", choices=("shop", "b2b"), default="shop")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None, help="workspace parent directory")
    ap.add_argument("--keep", action="store_true", help="keep the workspace")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="cxlens-simbench-", dir=args.dir))
    try:
        ws = Workspace.init(root / "ws")
        last = [time.perf_counter()]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            print(f"  {done:>9,} / {total:,} persons  (+{now - last[0]:.1f} s)", file=sys.stderr, flush=True)
            last[0] = now

        t0 = time.perf_counter()
        rep = simulate(ws, business=args.business, customers=args.customers, seed=args.seed,
                       progress=progress)
        seconds = time.perf_counter() - t0
        ws.close()
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({
            "business": args.business, "customers": args.customers, "events": rep.events,
            "inserted": rep.inserted, "seconds": round(seconds, 1),
            "events_per_s": round(rep.events / seconds), "generate_seconds": rep.generate_seconds,
            "peak_rss_mib": round(peak_mib), "orders": rep.orders, "feedback": rep.feedback,
        }))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
