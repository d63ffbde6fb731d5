"""CPU cost of the collector's request path without HTTP (not a test).

    python benchmarks/collector_inprocess.py            # single events and batches of 100

Drives ``cxlens.api.ingest_asgi.ingest`` (body -> handler -> WAL record -> answer) with
32 concurrent requests at a time on one event loop, as uvicorn would, and reports the
process CPU time per request and per event. The WAL is written without fsync and the
writer thread does not run, so this is the request path alone; add the HTTP cost of
the bare uvicorn ceiling (``collector_load.py --ceiling``) to estimate a whole request.
Process CPU time hardly depends on what else runs on the box, unlike a rate.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collector_load import batch_body, message

from cxlens.api.collector import INGEST_ROUTES, Collector, CollectorConfig
from cxlens.api.ingest_asgi import ingest
from cxlens.api.metrics import Metrics
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace

CONCURRENCY = 32


async def measure(root: Path, auth: bytes, path: str, body: bytes, n: int, requests: int) -> float:
    c = Collector(root, CollectorConfig(fsync=False), Metrics())  # drainer not started
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": path, "query_string": b"",
        "client": ("127.0.0.1", 40000),
        "headers": [(b"host", b"bench"), (b"authorization", auth),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]}
    message_in = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message_in

    async def send(_: Any) -> None:
        return None

    handler = INGEST_ROUTES[path]

    async def worker(k: int) -> None:
        for _ in range(k):
            await ingest(c, handler, scope, receive, send)

    await worker(50)  # warm up
    start = time.process_time()
    await asyncio.gather(*(worker(requests // CONCURRENCY) for _ in range(CONCURRENCY)))
    cpu = time.process_time() - start
    c.commit.close()
    c.wal.close()
    return cpu / (requests // CONCURRENCY * CONCURRENCY)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cxlens-inproc-"))
    try:
        with Workspace.init(tmp / "ws") as ws:
            key = create_project(ws.catalog, "bench").write_key
        auth = ("Basic " + base64.b64encode(f"{key}:".encode()).decode()).encode()
        single = orjson.dumps(message(0) | {"messageId": "single-@@"})
        out = {}
        for name, path, body, n, requests in (("single", "/v1/track", single, 1, 40_000),
                                              ("batch100", "/v1/batch", batch_body(100), 100, 800)):
            per_request = asyncio.run(measure(tmp / "ws", auth, path, body, n, requests))
            out[name] = {"cpu_us_per_request": round(per_request * 1e6, 1),
                         "cpu_us_per_event": round(per_request / n * 1e6, 2),
                         "events_per_s_per_core": round(n / per_request)}
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
