"""No acknowledged event is lost: SIGKILL the server mid-stream, restart, count."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import segment.analytics as segment
from collector_server import Server

from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace

N = 600


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_and_restart_while_the_sdk_sends_stores_every_event_exactly_once(
    tmp_path: Path, workers: int
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    keys = create_project(ws.catalog, "shop")
    ws.close()
    server = Server(tmp_path / "ws", None, "--workers", str(workers)).start()
    try:
        failed: list[object] = []
        client = segment.Client(keys.write_key, host=server.url, upload_size=20, upload_interval=0.05,
                                max_retries=20, on_error=lambda e, b: failed.append(e), timeout=5)

        def send() -> None:
            for i in range(N):
                client.track(f"user-{i % 37}", "Crash Test", {"i": i})
                if i % 20 == 0:
                    time.sleep(0.05)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.5)
        assert sender.is_alive()  # the kill lands mid-stream
        server.kill()  # SIGKILL: no shutdown, no drain; the WAL holds what was acknowledged
        time.sleep(0.3)
        server.start()
        sender.join()
        client.flush()
        client.join()
        server.stop()  # graceful: drains the WAL
    finally:
        server.stop()  # idempotent; never leave a server behind when the test fails

    ws = Workspace.open(tmp_path / "ws")
    try:
        table = ws.events("shop").to_arrow_table()
    finally:
        ws.close()
    assert failed == []
    ids = table.column("event_id").to_pylist()
    numbers = sorted(int(p.split(":")[1].rstrip("}")) for p in table.column("properties").to_pylist())
    assert len(ids) == len(set(ids)) == N
    assert numbers == list(range(N))
    assert "replaying" in server.log.read_text()  # the restarted server adopted the dead WAL
    assert not any((tmp_path / "ws" / "wal").glob("w-*/seg-*.log"))
