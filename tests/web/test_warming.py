"""The dashboard's cache warming under a collector: one worker at a time, never while the
write-ahead log is behind (up to a limit), with its own DuckDB memory limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import orjson
import pytest

from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace
from cxlens.web import warming
from cxlens.web.pages import ResultCache
from web.web_support import free_port


@dataclass
class FakeWeb:  # what warming uses of the dashboard's Web
    root: Path
    cache: ResultCache = field(default_factory=ResultCache)


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cxlens.simulate import simulate

    root = tmp_path_factory.mktemp("warming") / "ws"
    with Workspace.init(root, project="shop") as ws:
        simulate(ws, business="shop", customers=60, seed=3, project="shop", days=20)
    return root


def _configure(root: Path, text: str) -> None:
    toml = root / "cxlens.toml"
    base = toml.read_text().split("\n# test\n")[0]
    toml.write_text(base + "\n# test\n" + text)


@pytest.fixture
def ws_root(small_ws: Path) -> Iterator[Path]:
    yield small_ws
    _configure(small_ws, "")
    for seg in (small_ws / "wal").glob("w-test/*"):
        seg.unlink()


def _backlog(root: Path, size: int) -> None:
    # a dead writer's segment, as a collector that fell behind leaves them
    seg = root / "wal" / "w-test" / "seg-00000001.log"
    seg.parent.mkdir(parents=True, exist_ok=True)
    seg.write_bytes(b"\0" * size)


def test_warming_waits_while_the_wal_is_behind_and_warms_once_it_drained(ws_root: Path) -> None:
    _configure(ws_root, "[dashboard]\nwarm_max_wal_mb = 0.5\nwarm_max_defer_seconds = 3600\n")
    _backlog(ws_root, 1_000_000)
    warmer = warming.Warmer(FakeWeb(ws_root))  # type: ignore[arg-type]
    warmer.round()
    assert warmer.warmed == 0 and warmer.deferred_since is not None
    (ws_root / "wal" / "w-test" / "seg-00000001.log").unlink()
    warmer.round()
    assert warmer.warmed == 1 and warmer.deferred_since is None
    assert len(warmer.web.cache._items) >= 4  # overview, journey, graph, paths, ...


def test_warming_runs_anyway_when_the_wal_stays_behind_too_long(ws_root: Path) -> None:
    _configure(ws_root, "[dashboard]\nwarm_max_wal_mb = 0.5\nwarm_max_defer_seconds = 0\n")
    _backlog(ws_root, 1_000_000)
    warmer = warming.Warmer(FakeWeb(ws_root))  # type: ignore[arg-type]
    warmer.round()
    assert warmer.warmed == 1


def test_a_worker_waits_while_another_one_warms(ws_root: Path) -> None:
    warmer = warming.Warmer(FakeWeb(ws_root))  # type: ignore[arg-type]
    stop = threading.Event()
    with warming.turn(ws_root, stop) as mine:  # "another worker" warming now
        assert mine
        runner = threading.Thread(target=warmer.round)
        runner.start()
        time.sleep(1.0)
        assert warmer.warmed == 0 and runner.is_alive()
    runner.join(60)
    assert warmer.warmed == 1


class StopAfter(threading.Event):
    """Set once it has been asked ``n`` times: a shutdown that arrives mid-warming."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0 or super().is_set()


def test_a_shutdown_stops_warming_between_pages(ws_root: Path) -> None:
    web = FakeWeb(ws_root)
    with Workspace.open(ws_root) as ws:
        assert warming.warm_project(web, ws, "shop", stop=StopAfter(1)) is False  # type: ignore[arg-type]
        assert len(web.cache._items) == 1  # the overview, then it stopped
        assert warming.warm_project(web, ws, "shop", stop=threading.Event()) is True  # type: ignore[arg-type]
        assert len(web.cache._items) >= 4


def test_a_warmer_told_to_stop_warms_nothing(ws_root: Path) -> None:
    stop = threading.Event()
    stop.set()
    warmer = warming.Warmer(FakeWeb(ws_root), stop)  # type: ignore[arg-type]
    warmer.round()
    assert warmer.warmed == 0 and not warmer.web.cache._items


def test_bad_warming_settings_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        warming.settings({"dashboard": {"warm_threads": 0}})
    assert err.value.field == "dashboard.warm_threads"
    with pytest.raises(ConfigError) as err:
        warming.settings({"dashboard": {"warm_max_wal_mb": "lots"}})
    assert err.value.field == "dashboard.warm_max_wal_mb"
    assert warming.settings({}) == warming.WarmSettings()


def _warmings(log: Path) -> list[tuple[int, float, float]]:
    out = []
    for line in log.read_text().splitlines():
        if '"warmed the dashboard cache"' in line:
            doc = orjson.loads(line)
            end = datetime.fromisoformat(doc["ts"].replace("Z", "+00:00")).timestamp()
            out.append((doc["pid"], end - doc["seconds"], end))
    return out


def test_two_workers_of_a_real_server_warm_one_after_the_other(ws_root: Path) -> None:
    port = free_port()
    log = ws_root.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])",
             "-w", str(ws_root), "serve", "--port", str(port), "--workers", "2",
             "--log-level", "info"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and len(_warmings(log)) < 2:
                assert proc.poll() is None, log.read_text()[-2000:]
                time.sleep(0.2)
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
    done = _warmings(log)
    assert len({pid for pid, _, _ in done}) == 2, log.read_text()[-2000:]  # each worker's cache
    (_, _, e1), (_, s2, _) = sorted(done, key=lambda w: w[1])[:2]
    assert e1 <= s2 + 0.05  # never at the same time
