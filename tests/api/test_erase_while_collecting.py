"""Right to erasure with the collector running: its WAL drainer drops the person's rows.

The real server runs with a long drain interval, so the person's latest events sit in
its write-ahead log (acknowledged, not yet in Parquet) when ``cxlens privacy erase``
runs in another process. The erasure must remove them too, keep everyone else's
events, lose nothing acknowledged and leave the collector taking events.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from collector_server import Server

from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace


def _send(server: Server, key: str, users: list[str], tag: str, n: int = 5) -> None:
    batch = [{"type": "track", "userId": user, "event": "Seen", "messageId": f"{tag}-{user}-{i}",
              "properties": {"email": f"{user}@example.de"}} for user in users for i in range(n)]
    r = httpx.post(f"{server.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=30)
    assert r.status_code == 200 and r.json()["accepted"] == len(batch), r.text


def _users(root: Path) -> list[str]:
    with Workspace.open(root) as ws:
        return sorted(r[0] for r in ws.events("shop").select("user_id").fetchall())


def _files_naming(root: Path, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if path.suffix != ".parquet" and needle in path.read_bytes():
                hits.append(str(path.relative_to(root)))
    return hits


def test_erase_with_a_running_collector_removes_pending_wal_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with Workspace.init(root) as ws:
        key = create_project(ws.catalog, "shop").write_key
    server = Server(root, None, "--drain-interval", "300").start()
    try:
        _send(server, key, ["erase-me", "keep-me"], "a")
        deadline = time.monotonic() + 90  # one append; slow on a saturated box
        while len(_users(root)) < 10 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_users(root)) == 10  # the first batch after a quiet spell is drained at once
        _send(server, key, ["erase-me", "keep-me"], "b")  # waits in the WAL for the next round
        assert any(p.startswith("wal/") for p in _files_naming(root, b"erase-me"))

        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])",
             "-w", str(root), "privacy", "erase", "erase-me", "-p", "shop", "--json"],
            capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        result = orjson.loads(done.stdout)
        assert result["leftovers"] == []
        assert time.monotonic() - started < 150  # the drainer was asked, not waited out (300 s)

        _send(server, key, ["keep-me"], "c")  # the collector goes on taking events
        server.stop()  # graceful: drains the rest
    finally:
        server.stop()

    users = _users(root)
    assert users == ["keep-me"] * 15  # all of keep-me's 15 acknowledged events, none of erase-me's
    assert _files_naming(root, b"erase-me") == []
    assert not (root / "wal" / "erase").exists() or not any((root / "wal" / "erase").iterdir())
