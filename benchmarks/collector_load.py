"""Load benchmark of the collector (not a test): events/s, req/s, p50/p99, server RSS.

    python benchmarks/collector_load.py                                  # two 10-s phases
    python benchmarks/collector_load.py --duration 600 --phases batch    # the 10-minute soak

The load generator is wrk (Debian: ``apt-get install -y wrk``) on loopback, driven by a
small Lua script that gives every message a unique messageId so that the workspace
really stores each one; it shares the machine with the server, as the targets assume.
Without wrk a Python asyncio generator (keep-alive connections, same bodies) is used;
it costs far more CPU, so its figures are lower bounds.

The same run measures the bare parse limit (orjson and msgspec decoding the same bodies
in a loop on one core) and the normalise limit (orjson + cxlens' per-message mapping),
so the ratios show where the time goes. A sampler records, every second, the RSS and
CPU time of the server processes and the WAL backlog on disk (pending bytes and the age
of the oldest segment), printed as a series. After the load the server is stopped
gracefully (WAL drained) and the stored events are counted: every acknowledged event
must be there. ``server_cpu_us_per_event`` (server CPU time / events acknowledged) does
not depend on what else runs on the box, unlike the rates.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
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


BARE_APP = r"""
import orjson

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    orjson.loads(body)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"success":true}'})
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


def _rate(fn: Any, n: int, seconds: float) -> float:
    loops, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        loops += 1
    return loops * n / (time.perf_counter() - start)


def parse_limits(body: bytes, n: int, seconds: float = 2.0) -> dict[str, float]:
    """events/s on one core: bare orjson, bare msgspec, orjson + cxlens normalisation."""
    import msgspec

    from cxlens.ingest.segment import normalize_messages

    real = body.replace(b"@@", b"x")
    now = datetime.now(UTC)
    decoder = msgspec.json.Decoder()
    return {
        "orjson": _rate(lambda: orjson.loads(real), n, seconds),
        "msgspec": _rate(lambda: decoder.decode(real), n, seconds),
        "normalise": _rate(lambda: normalize_messages(orjson.loads(real)["batch"], sent_at=now,
                                                      received_at=now), n, seconds),
    }


class Sampler(threading.Thread):
    """Every ``every`` seconds: RSS and CPU of the server tree, WAL backlog on disk."""

    def __init__(self, pid: int, wal: Path, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.wal = wal
        self.every = every
        self.samples: list[dict[str, Any]] = []
        self.halt = threading.Event()
        self._procs: dict[int, psutil.Process] = {}
        self.t0 = time.monotonic()

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def _tree(self) -> list[psutil.Process]:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return []
        # keep the Process objects: cpu_percent-style state and dead children's last values
        for p in procs:
            self._procs.setdefault(p.pid, p)
        return [self._procs[p.pid] for p in procs]

    def wal_backlog(self) -> tuple[float, float]:
        now = time.time()
        size, oldest = 0, now
        for seg in self.wal.glob("w-*/seg-*.log"):
            try:
                st = seg.stat()
            except OSError:
                continue
            if st.st_size:
                size += st.st_size
                oldest = min(oldest, st.st_mtime if st.st_size else now)
        return size / 1e6, now - oldest

    def run(self) -> None:
        while not self.halt.wait(self.every):
            rss = 0
            # per process: RSS and its anonymous part (heap; the rest is mapped files,
            # e.g. memory-mapped index runs, which the kernel can drop at any time)
            procs: dict[str, list[int]] = {}
            for p in self._tree():
                with contextlib.suppress(psutil.Error):
                    m = p.memory_info()
                    rss += m.rss
                    procs[str(p.pid)] = [round(m.rss / 1e6), round((m.rss - m.shared) / 1e6)]
            mb, _ = self.wal_backlog()
            self.samples.append({"t": round(time.monotonic() - self.t0, 1), "rss_mb": round(rss / 1e6),
                                 "wal_mb": round(mb, 1), "load1": round(os.getloadavg()[0], 2),
                                 "pid_rss_anon_mb": procs})


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def run_wrk(url: str, path: str, body: bytes, auth: str, duration: int, connections: int,
            threads: int, tmp: Path) -> dict[str, Any]:
    script = tmp / f"load{path.replace('/', '_')}.lua"
    template = body.decode().replace("]]", "] ]")
    script.write_text(LUA % (template, path, auth))
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout

    def grab(pattern: str) -> str:
        m = re.search(pattern, out)
        return m.group(1) if m else "0"

    return {
        "requests": int(grab(r"(\d+) requests in")),
        "non2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)")),
        "errors": sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": _ms(grab(r"50%\s+(\S+)")), "p99_ms": _ms(grab(r"99%\s+(\S+)")),
    }


async def _py_load(host: str, port: int, path: str, body: bytes, auth: str, duration: int,
                   connections: int) -> dict[str, Any]:
    """Fallback generator: keep-alive HTTP/1.1 connections posting ``body`` back to back."""
    latencies: list[float] = []
    non2xx = errors = 0
    counter = 0
    deadline = time.monotonic() + duration

    async def conn(cid: int) -> None:
        nonlocal non2xx, errors, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                counter += 1
                payload = body.replace(b"@@", f"{cid}-{counter}".encode())
                head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
                t0 = time.perf_counter()
                writer.write(head.encode() + payload)
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - t0) * 1000)
                if not status.split()[1].startswith(b"2"):
                    non2xx += 1
        except (OSError, asyncio.IncompleteReadError, IndexError):
            errors += 1
        finally:
            writer.close()

    start = time.monotonic()
    await asyncio.gather(*(conn(i) for i in range(connections)))
    elapsed = time.monotonic() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else float("nan")

    return {"requests": len(latencies), "non2xx": non2xx, "errors": errors,
            "rps": round(len(latencies) / elapsed, 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def ceiling(tmp: Path, workers: int, bodies: dict[str, tuple[str, bytes, int]], auth: str,
            duration: int, connections: int, threads: int) -> dict[str, Any]:
    """The same load against a bare uvicorn + httptools + uvloop ASGI app that only
    decodes the body with orjson: what HTTP on this box allows at most."""
    (tmp / "bare_asgi.py").write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bare_asgi:app", "--port", str(port), "--workers",
         str(workers), "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
         "--no-access-log"], cwd=tmp, start_new_session=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url + "/")
        out = {}
        for name, (path, body, n) in bodies.items():
            r = run_wrk(url, path, body, auth, duration, connections, threads, tmp)
            out[name] = {"rps": r["rps"], "events_per_s": round(r["rps"] * n),
                         "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
        return out
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def _wait_up(url: str) -> None:
    import httpx

    for _ in range(600):
        try:
            httpx.post(url, content=b"{}", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def count_stored(ws: Path) -> tuple[int, int]:
    """Events in the workspace, and rows still durable in the WAL (a shutdown that hit
    its drain deadline leaves them for the next start)."""
    from cxlens.ingest.wal import read_segment
    from cxlens.store.workspace import Workspace

    with Workspace.open(ws) as w:
        stored = int(w.events("bench").count("*").fetchall()[0][0])
    in_wal = sum(len(rows) for seg in sorted((ws / "wal").glob("*/seg-*.log"))
                 for _, rows in read_segment(seg))
    return stored, in_wal


def series(samples: list[dict[str, Any]], every: float) -> list[dict[str, Any]]:
    """Every ``every`` seconds' sample (the last one too), for printing."""
    out: list[dict[str, Any]] = []
    next_t = 0.0
    for s in samples:
        if s["t"] >= next_t:
            out.append(s)
            next_t = s["t"] + every
    if samples and (not out or out[-1] is not samples[-1]):
        out.append(samples[-1])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per load phase")
    ap.add_argument("--phases", default="batch,single", help="batch, single or both, in order")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--no-fsync", action="store_true", help="measure without fsync (not durable)")
    ap.add_argument("--drain-interval", type=float, default=0.5)
    ap.add_argument("--python-load", action="store_true", help="use the Python generator even if wrk exists")
    ap.add_argument("--no-dashboard-warm", action="store_true",
                    help="CXLENS_DASHBOARD_PREWARM=0: without the dashboard's cache-warming thread, "
                         "which re-runs analyses in every worker whenever the events changed")
    ap.add_argument("--ceiling", action="store_true",
                    help="first run the same load against a bare uvicorn ASGI app (needs wrk)")
    ap.add_argument("--settle", type=float, default=120.0,
                    help="after the load, wait at most this long for the WAL to empty before "
                         "reading the server's CPU time (server_cpu_us_per_event_with_writer)")
    ap.add_argument("--series-every", type=float, default=0.0,
                    help="seconds between printed samples (default: duration/20)")
    ap.add_argument("--keep-workspace", type=Path, default=None,
                    help="move the workspace here after the run (to study it) instead of deleting it")
    ap.add_argument("--server-log", type=Path, default=None,
                    help="write the server's log (level info: drain rounds, warming, merges) here")
    args = ap.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python_load
    if not use_wrk:
        print("wrk not found (apt-get install -y wrk): using the Python load generator", file=sys.stderr)

    from cxlens.store.keys import create_project
    from cxlens.store.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="cxlens-bench-"))
    ws_path = tmp / "ws"
    with Workspace.init(ws_path) as ws:
        key = create_project(ws.catalog, "bench").write_key
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    bodies = {
        "batch": ("/v1/batch", batch_body(args.batch), args.batch),
        # its own message ids: a repeated messageId is rightly stored once
        "single": ("/v1/track", orjson.dumps(message(0) | {"messageId": "single-@@"}), 1),
    }
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    load_before = os.getloadavg()[0]
    limits = parse_limits(bodies["batch"][1], args.batch)
    bare = (ceiling(tmp, args.workers, {k: bodies[k] for k in phases}, auth, args.duration,
                    args.connections, args.threads) if args.ceiling and use_wrk else None)

    port = free_port()
    cmd = [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])",
           "-w", str(ws_path), "serve", "--port", str(port), "--workers", str(args.workers),
           "--log-level", "info" if args.server_log else "warning",
           "--drain-interval", str(args.drain_interval)]
    if args.no_fsync:
        cmd.append("--no-fsync")
    env = {**os.environ, **({"CXLENS_DASHBOARD_PREWARM": "0"} if args.no_dashboard_warm else {})}
    log_file = args.server_log.open("w") if args.server_log else None
    server = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, env=env,
                              stderr=log_file)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    time.sleep(1.0 if args.workers > 1 else 0.0)  # let every worker come up
    sampler = Sampler(server.pid, ws_path / "wal")
    sampler.start()
    results: dict[str, dict[str, Any]] = {}
    acked = 0
    run_cpu0 = sampler.cpu_seconds()
    for phase in phases:
        path, body, n = bodies[phase]
        cpu0, t0 = sampler.cpu_seconds(), time.monotonic()
        loads = [os.getloadavg()[0]]
        if use_wrk:
            r = run_wrk(url, path, body, auth, args.duration, args.connections, args.threads, tmp)
        else:
            r = asyncio.run(_py_load("127.0.0.1", port, path, body, auth, args.duration,
                                     args.connections))
        loads.append(os.getloadavg()[0])
        events = (r["requests"] - r["non2xx"]) * n
        acked += events
        cpu = sampler.cpu_seconds() - cpu0
        r.update(events_per_s=round(r["rps"] * n), events=events,
                 server_cpu_us_per_event=round(cpu / max(events, 1) * 1e6, 1),
                 server_cpu_cores=round(cpu / (time.monotonic() - t0), 2),
                 wal_backlog_mb_s_after=[round(x, 1) for x in sampler.wal_backlog()],
                 loadavg_1min_start_end=[round(x, 2) for x in loads])
        results[phase] = r
    # CPU per event *including* the writer: the phases' figures leave out whatever WAL
    # backlog the writer had not yet moved into the workspace when a phase ended
    settle_t0 = time.monotonic()
    while sampler.wal_backlog()[0] > 0 and time.monotonic() - settle_t0 < args.settle:
        time.sleep(0.2)
    settle_s = time.monotonic() - settle_t0
    total_cpu = sampler.cpu_seconds() - run_cpu0
    sampler.halt.set()
    t0 = time.monotonic()
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(900)
    drain_s = time.monotonic() - t0
    stored, in_wal = count_stored(ws_path)
    rss = [s["rss_mb"] for s in sampler.samples] or [float("nan")]
    per_pid: dict[str, int] = {}
    for s in sampler.samples:
        for pid, (p_rss, _) in s["pid_rss_anon_mb"].items():
            per_pid[pid] = max(per_pid.get(pid, 0), p_rss)
    best = results.get("batch", {}).get("events_per_s", 0)
    res = {
        "machine": f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "load_generator": "wrk" if use_wrk else "python asyncio",
        "workers": args.workers, "connections": args.connections, "duration_s": args.duration,
        "fsync": not args.no_fsync, "dashboard_warm": not args.no_dashboard_warm,
        "phases": results,
        "bare_uvicorn_ceiling": bare,
        "parse_limit_events_per_s_1core": {k: round(v) for k, v in limits.items()},
        "batch_rate_vs_orjson_parse_limit": round(best / limits["orjson"], 3) if best else None,
        "rss_mb_max": max(rss), "rss_mb_last": rss[-1], "rss_mb_max_per_process": per_pid,
        "series": series(sampler.samples, args.series_every or max(1.0, args.duration * len(phases) / 20)),
        "settle_s": round(settle_s, 1),
        "server_cpu_us_per_event_with_writer": round(total_cpu / max(acked, 1) * 1e6, 1),
        "shutdown_drain_s": round(drain_s, 1),
        "acknowledged_events": acked, "stored_events": stored, "still_in_wal": in_wal,
        # other processes on the box (a shared machine) depress every rate above
        "loadavg_1min_before": round(load_before, 2),
        "command": "python benchmarks/collector_load.py " + " ".join(sys.argv[1:]),
    }
    print(orjson.dumps(res, option=orjson.OPT_INDENT_2).decode())
    if args.keep_workspace is not None:
        shutil.move(ws_path, args.keep_workspace)
    shutil.rmtree(tmp, ignore_errors=True)
    if stored + in_wal < acked:
        sys.exit(f"LOST EVENTS: acknowledged {acked}, stored {stored}, still in the WAL {in_wal}")


if __name__ == "__main__":
    main()
