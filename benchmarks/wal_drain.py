"""CPU cost of the collector's WAL writer per event (not a test).

    nice -n 5 python benchmarks/wal_drain.py --rounds 8 --events 40000 --compare /work/main/src

Each round fills the WAL with ``--events`` events through the collector's request
handler (batches of 100 Segment messages with unique ids, no HTTP, no fsync, not
timed), then runs one drain round of the WAL writer (``Drainer.drain_once``: read the
segments, build the Arrow table, ``Workspace.append`` with its duplicate check and tier
merges, survey answers) and records its CPU seconds (``time.process_time``: every
thread, DuckDB's included) and wall seconds. The day grows round after round as in a
soak. ``--compare SRC`` runs the same rounds with another source tree (e.g. main) in a
child process first, then this tree, and again (A B A B), so both see the same box.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collector_load import batch_body

CONCURRENCY = 32


async def _fill(c: Any, auth: bytes, bodies: list[bytes]) -> None:
    from cxlens.api.collector import INGEST_ROUTES
    from cxlens.api.ingest_asgi import ingest

    handler = INGEST_ROUTES["/v1/batch"]

    async def one(body: bytes) -> None:
        scope: dict[str, Any] = {
            "type": "http", "method": "POST", "path": "/v1/batch", "query_string": b"",
            "client": ("127.0.0.1", 40000),
            "headers": [(b"host", b"bench"), (b"authorization", auth),
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]}
        message_in = {"type": "http.request", "body": body, "more_body": False}

        async def receive() -> dict[str, Any]:
            return message_in

        async def send(_: Any) -> None:
            return None

        await ingest(c, handler, scope, receive, send)

    for i in range(0, len(bodies), CONCURRENCY):
        await asyncio.gather(*(one(b) for b in bodies[i:i + CONCURRENCY]))


def run(rounds: int, events: int) -> dict[str, Any]:
    from cxlens.api.collector import Collector, CollectorConfig
    from cxlens.api.metrics import Metrics
    from cxlens.store.keys import create_project
    from cxlens.store.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="cxlens-drain-"))
    try:
        with Workspace.init(tmp / "ws") as ws:
            key = create_project(ws.catalog, "bench").write_key
        auth = ("Basic " + base64.b64encode(f"{key}:".encode()).decode()).encode()
        template = batch_body(100)
        c = Collector(tmp / "ws", CollectorConfig(fsync=False), Metrics())  # drainer not started
        per_round = []
        for _ in range(rounds):
            bodies = [template.replace(b"@@", uuid.uuid4().hex.encode()) for _ in range(events // 100)]
            asyncio.run(_fill(c, auth, bodies))
            cpu0, wall0 = time.process_time(), time.perf_counter()
            c.drainer.drain_once()
            per_round.append((time.process_time() - cpu0, time.perf_counter() - wall0))
        stored = Workspace.open(tmp / "ws").query(lambda r: int(r.aggregate("count(*)").fetchall()[0][0]),
                                                  "bench")
        c.commit.close()
        c.wal.close()
        steady = per_round[1:] or per_round
        cpu = sum(p[0] for p in steady)
        return {"rounds": rounds, "events_per_round": events, "stored": stored,
                "drain_cpu_s": [round(p[0], 3) for p in per_round],
                "drain_wall_s": [round(p[1], 3) for p in per_round],
                "cpu_us_per_event": round(cpu / (len(steady) * events) * 1e6, 2),
                "events_per_cpu_s": round(len(steady) * events / cpu),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--events", type=int, default=40_000, help="events per drain round")
    ap.add_argument("--compare", type=Path, help="another source tree to run first (A B A B)")
    ap.add_argument("--json", action="store_true", help="print one JSON line (used by --compare)")
    args = ap.parse_args()
    if args.json or args.compare is None:
        result = run(args.rounds, args.events)
        print(orjson.dumps(result).decode() if args.json else
              orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    here = Path(__file__).resolve().parent.parent / "src"
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    out: dict[str, list[dict[str, Any]]] = {"compare": [], "this": []}
    for _ in range(2):
        for label, src in (("compare", args.compare), ("this", here)):
            env = {**os.environ, "PYTHONPATH": str(src)}
            proc = subprocess.run([sys.executable, __file__, "--json", "--rounds", str(args.rounds),
                                   "--events", str(args.events)],
                                  env=env, check=True, capture_output=True, text=True)
            out[label].append(orjson.loads(proc.stdout.strip().splitlines()[-1]))
            print(label, src, out[label][-1], flush=True)
    summary = {label: [r["cpu_us_per_event"] for r in runs] for label, runs in out.items()}
    rss = {label: [r["peak_rss_mb"] for r in runs] for label, runs in out.items()}
    with open("/proc/loadavg") as f:
        load_end = f.read().split()[:3]
    print(orjson.dumps({"loadavg_at_start": load, "loadavg_at_end": load_end,
                        "cpu_us_per_event": summary, "peak_rss_mb": rss}).decode())


if __name__ == "__main__":
    main()
