"""With ``--workers 2`` a /metrics scrape counts the events of every worker."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from collector_server import Server

from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace

N_REQUESTS = 40


def _accepted(text: str) -> float:
    m = re.search(r'^cxlens_events_accepted_total\{api="segment"\} ([\d.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_metrics_sum_the_counters_of_all_workers_whichever_answers(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with Workspace.init(root) as ws:
        key = create_project(ws.catalog, "shop").write_key
    server = Server(root, None, "--workers", "2").start()
    try:
        # Server.start returns when one worker answers; the other may still be importing
        # on a saturated box (a fixed 1 s sleep was a race): each worker makes its WAL
        # directory during startup, so wait for two of them
        deadline = time.monotonic() + 60
        while len([d for d in (root / "wal").glob("w-*") if d.is_dir()]) < 2:
            assert time.monotonic() < deadline, "the second worker did not start within 60 s"
            time.sleep(0.05)
        for i in range(N_REQUESTS):
            # a new connection each time, so that the kernel spreads them over the workers
            r = httpx.post(f"{server.url}/v1/batch", auth=(key, ""), json={"batch": [
                {"type": "track", "userId": f"u{i}", "event": "e", "messageId": f"m-{i}-{j}"}
                for j in range(3)]})
            assert r.status_code == 200, r.text
        scrapes = [httpx.get(f"{server.url}/metrics").text for _ in range(10)]
        writers = [d for d in (root / "wal").glob("w-*") if d.is_dir()]
    finally:
        server.stop()
    assert len(writers) == 2  # two workers, each with its own WAL
    assert {_accepted(text) for text in scrapes} == {3.0 * N_REQUESTS}
    assert all("cxlens_wal_lag_seconds" in text for text in scrapes)
    with Workspace.open(root) as ws:
        assert ws.events("shop").count("*").fetchall()[0][0] == 3 * N_REQUESTS
