"""Load benchmark of the collector (not a test): events/s, req/s, p99, server RSS.

    python benchmarks/collector_load.py                 # ~25 s default run
    python benchmarks/collector_load.py --duration 600  # the 10-minute soak

The load generator is wrk (Debian: ``apt-get install -y wrk``), driven with a small Lua
script that gives every message a unique messageId so the workspace really stores each
one. It shares the machine with the server, as the targets assume. The same run also
measures the bare parse limit (orjson decoding the same bodies in a loop) and the
normalise limit (decode + cxlens' per-message mapping), so the ratios show where time
goes. After the load, the server is stopped gracefully (WAL drained) and the stored
events are counted: every acknowledged event must be there.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psutil

LUA = r"""
local template = [[%s]]
local path = "%s"
local auth = "%s"
local counter = 0
local tid = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  local body = template:gsub("@@", tid .. "-" .. counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(i: int) -> dict[str, Any]:
    return {
        "type": "track", "messageId": f"@@-{i}", "userId": f"user-{i % 50}", "event": "Product Viewed",
        "timestamp": "2026-01-01T10:00:00.000Z",
        "properties": {"sku": f"SKU-{i}", "price": 19.99, "currency": "EUR", "category": "Schuhe"},
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"},
                    "page": {"url": "https://shop.example.de/p/1?utm_source=google&utm_medium=cpc",
                             "path": "/p/1", "referrer": "https://www.google.de/"},
                    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", "locale": "de-DE"},
    }


def batch_body(n: int) -> bytes:
    return orjson.dumps({"batch": [message(i) for i in range(n)], "sentAt": "2026-01-01T10:00:01.000Z"})


def parse_limits(body: bytes, n: int, seconds: float = 2.0) -> tuple[float, float]:
    """events/s for bare orjson decoding, and for decoding + cxlens normalisation."""
    from cxlens.ingest.segment import normalize_messages

    real = body.replace(b"@@", b"x")
    loops, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        orjson.loads(real)
        loops += 1
    bare = loops * n / (time.perf_counter() - start)
    now = datetime.now(UTC)
    loops, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        doc = orjson.loads(real)
        normalize_messages(doc["batch"], sent_at=now, received_at=now)
        loops += 1
    full = loops * n / (time.perf_counter() - start)
    return bare, full


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.5):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                self.samples.append(sum(p.memory_info().rss for p in procs) / 1e6)
            except psutil.Error:
                pass


def run_wrk(url: str, path: str, body: bytes, auth: str, duration: int, connections: int,
            threads: int, tmp: Path) -> dict[str, float]:
    script = tmp / f"load{path.replace('/', '_')}.lua"
    template = body.decode().replace("]]", "] ]")
    script.write_text(LUA % (template, path, auth))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout

    def grab(pattern: str) -> str:
        m = re.search(pattern, out)
        return m.group(1) if m else "0"

    def ms(text: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    total = int(grab(r"(\d+) requests in"))
    non2xx = int(grab(r"Non-2xx or 3xx responses: (\d+)"))
    return {
        "requests": total, "non2xx": non2xx, "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": ms(grab(r"50%\s+(\S+)")), "p99_ms": ms(grab(r"99%\s+(\S+)")),
        "raw": out,  # type: ignore[dict-item]
    }


def count_stored(ws: Path) -> int:
    from cxlens.store.workspace import Workspace

    with Workspace.open(ws) as w:
        return int(w.events("bench").count("*").fetchall()[0][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per load phase (two phases)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--no-fsync", action="store_true", help="measure without fsync (not durable)")
    ap.add_argument("--drain-interval", type=float, default=0.5)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")

    from cxlens.store.keys import create_project
    from cxlens.store.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="cxlens-bench-"))
    ws_path = tmp / "ws"
    with Workspace.init(ws_path) as ws:
        key = create_project(ws.catalog, "bench").write_key
    import base64

    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = batch_body(args.batch)
    # its own message ids: "@@-0" would repeat the batch phase's ids, and the workspace
    # rightly stores a repeated messageId once
    single = orjson.dumps(message(0) | {"type": "track", "messageId": "single-@@"})
    load_before = os.getloadavg()[0]
    bare, full = parse_limits(body, args.batch)

    port = free_port()
    cmd = [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])",
           "-w", str(ws_path), "serve", "--port", str(port), "--workers", str(args.workers),
           "--log-level", "warning",
           "--drain-interval", str(args.drain_interval)]
    if args.no_fsync:
        cmd.append("--no-fsync")
    server = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(200):
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    sampler = RssSampler(server.pid)
    sampler.start()
    batch = run_wrk(url, "/v1/batch", body, auth, args.duration, args.connections, args.threads, tmp)
    lag_after_batch = _metric(url, "cxlens_wal_lag_seconds")
    single_res = run_wrk(url, "/v1/track", single, auth, args.duration, args.connections,
                         args.threads, tmp)
    sampler.halt.set()
    t0 = time.monotonic()
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(600)
    drain_s = time.monotonic() - t0
    acked = (batch["requests"] - batch["non2xx"]) * args.batch + single_res["requests"] - single_res["non2xx"]
    stored = count_stored(ws_path)
    rss = sampler.samples or [float("nan")]
    cpu = os.cpu_count()
    res = {
        "machine": f"{cpu} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "workers": args.workers, "connections": args.connections, "duration_s": args.duration,
        "fsync": not args.no_fsync,
        "batch100_events_per_s": round(batch["rps"] * args.batch),
        "batch100_req_per_s": batch["rps"], "batch100_p50_ms": batch["p50_ms"],
        "batch100_p99_ms": batch["p99_ms"], "batch100_non2xx": batch["non2xx"],
        "single_req_per_s": single_res["rps"], "single_p50_ms": single_res["p50_ms"],
        "single_p99_ms": single_res["p99_ms"], "single_non2xx": single_res["non2xx"],
        "parse_limit_orjson_events_per_s_1core": round(bare),
        "decode_plus_normalise_events_per_s_1core": round(full),
        "rss_mb_max": round(max(rss)), "rss_mb_last": round(rss[-1]),
        "wal_lag_s_after_batch_phase": lag_after_batch,
        "shutdown_drain_s": round(drain_s, 1),
        "acknowledged_events": acked, "stored_events": stored,
        # other processes on the box (shared CI/dev machine) depress every number above
        "loadavg_1min_before": round(load_before, 2),
        "command": "python benchmarks/collector_load.py " + " ".join(sys.argv[1:]),
    }
    print(orjson.dumps(res, option=orjson.OPT_INDENT_2).decode())
    shutil.rmtree(tmp, ignore_errors=True)
    if stored < acked:
        sys.exit(f"LOST EVENTS: acknowledged {acked}, stored {stored}")


def _metric(url: str, name: str) -> float:
    import httpx

    try:
        text = httpx.get(url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return float("nan")
    m = re.search(rf"^{name} ([\d.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else float("nan")


if __name__ == "__main__":
    main()
