"""Crash safety and concurrent access, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxlens.store import retired
from cxlens.store.workspace import Workspace, read_retrying
from support import REPO, count, numbered_events

APPENDER = Path(__file__).with_name("appender.py")


def _spawn(ws_path: Path, size: int, batches: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, str(APPENDER), str(ws_path), str(size), str(batches)],
        stdout=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.parametrize("kill_after_acks", [1, 3])
def test_writer_killed_mid_append_keeps_every_acknowledged_batch(
    ws: Workspace, kill_after_acks: int
) -> None:
    size = 40_000  # large enough that the kill lands inside a write most of the time
    proc = _spawn(ws.root, size, 50)
    assert proc.stdout is not None
    acked = 0
    while acked < kill_after_acks:
        line = proc.stdout.readline()
        assert line.startswith("ack"), f"appender died early: {line!r}"
        acked += 1
    time.sleep(0.15)  # let it get into the middle of the next batch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked += sum(1 for line in proc.stdout if line.startswith("ack"))

    reopened = Workspace.open(ws.root)
    stored = count(reopened.events())
    # every acknowledged batch is there, batches are all-or-nothing, nothing half-written
    assert stored >= acked * size
    assert stored % size == 0
    ids = {r[0] for r in reopened.events().select("event_id").fetchall()}
    assert all(f"e{i}" in ids for i in range(0, acked * size, 997))
    # the next writer removes what the killed one left, and the directory is clean again
    reopened.append(pa_one(), source="test")
    on_disk = sorted(p.relative_to(ws.root).as_posix() for p in (ws.root / "events").rglob("*.parquet"))
    assert not retired.listed(reopened.catalog)  # no reader held a lease: merged-away files went
    assert on_disk == sorted(f.path for f in reopened.event_files())
    assert not any((ws.root / "_tmp").glob("batch-*"))
    # the event-id index matches the data exactly: a run for every live file, none other
    runs = {p.relative_to(ws.root / "index").with_suffix(".parquet").as_posix()
            for p in (ws.root / "index").rglob("*") if p.is_file()}
    assert runs == {f.path for f in reopened.event_files()}
    assert reopened.append(numbered_events(stored), source="test").inserted == 0


def pa_one():  # type: ignore[no-untyped-def]
    from support import numbered_events

    return numbered_events(1, start=10**9)


def test_reader_in_another_process_sees_whole_batches_while_a_writer_appends(ws: Workspace) -> None:
    size, batches = 2_000, 25
    proc = _spawn(ws.root, size, batches)
    reader = Workspace.open(ws.root)
    seen = []
    while proc.poll() is None:
        seen.append(reader.query(lambda rel: count(rel)))
    assert proc.returncode == 0
    seen.append(reader.query(lambda rel: count(rel)))
    assert seen[-1] == size * batches
    assert all(n % size == 0 for n in seen), "a reader saw part of a batch"
    assert seen == sorted(seen), "a reader saw events disappear"
    assert len(set(seen)) > 2, "the reader never overlapped with the writer"


def test_compaction_while_another_process_reads_never_changes_what_it_sees(ws: Workspace) -> None:
    for i in range(12):
        from support import numbered_events

        ws.append(numbered_events(1_000, start=i * 1_000, day_mod=4), source="test")
    code = (
        "import sys, time\n"
        "from support import count\n"
        "from cxlens.store.workspace import Workspace\n"
        "ws = Workspace.open(sys.argv[1]); end = time.time() + float(sys.argv[2]); seen = set()\n"
        "while time.time() < end: seen.add(ws.query(count))\n"
        "print(sorted(seen))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
    reader = subprocess.Popen([sys.executable, "-c", code, str(ws.root), "4"], stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(1.0)
    result = ws.compact()
    assert result.files_before > result.files_after
    out, _ = reader.communicate(timeout=60)
    assert reader.returncode == 0
    assert out.strip() == "[12000]"


def test_a_read_whose_listed_files_were_deleted_reads_the_merged_file(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    for i in range(3):
        ws.append(numbered_events(1_000, start=i * 1_000), source="test")
    listed_before = [str(ws.root / f.path) for f in ws.event_files()]
    ws.compact()  # retires the listed files and, with no reader's lease, deletes them
    lists: list[list[str]] = []

    def read() -> int:
        # the first attempt reads the stale listing, like a page that connected just
        # before the merge; a retry lists the live files again
        files = listed_before if not lists else [str(ws.root / f.path) for f in ws.event_files()]
        lists.append(files)
        return int(ws.con.execute("SELECT count(*) FROM read_parquet(?)", [files]).fetchall()[0][0])

    assert read_retrying(read) == 3_000
    assert len(lists) == 2 and lists[0] != lists[1]
