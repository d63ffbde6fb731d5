"""Files merges and compactions replace stay readable for readers that hold a lease."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxlens.errors import WorkspaceError
from cxlens.privacy.retention import retention
from cxlens.store import retired
from cxlens.store.workspace import Workspace
from cxlens.web import queries
from support import count, numbered_events


def _workspace(tmp_path: Path, store: str) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text((ws.root / "cxlens.toml").read_text() + f"\n[store]\n{store}\n")
    return Workspace.open(ws.root)


def test_a_reader_that_listed_files_before_a_merge_reads_them_exactly_after_it(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2")
    ws.append(numbered_events(1_000, day_mod=1), source="test")
    with ws.reading():
        listed = ws.events()  # lists the live files now, reads them below
        page = queries.connect(ws, "default")  # the dashboard's connection lists once too
        before = {f.path for f in ws.event_files()}

        ws.append(numbered_events(1_000, start=1_000, day_mod=1), source="test")  # merges the day

        assert not before & {f.path for f in ws.event_files()}, "the merge retired the listed file"
        assert all((ws.root / p).exists() for p in before)
        assert count(listed) == 1_000
        assert page.execute("SELECT count(*), count(DISTINCT event_id) FROM ev").fetchall() == [(1_000, 1_000)]
        assert count(ws.events()) == 2_000  # a new listing sees only the merged file
        assert before < {f.path for f in retired.listed(ws.catalog)}  # with the second append's file
    ws.append(numbered_events(1, start=5_000, day_mod=1), source="test")  # no reader now
    assert not any((ws.root / p).exists() for p in before)
    assert not retired.listed(ws.catalog)


def test_without_a_reader_a_merge_deletes_what_it_replaced_so_a_directory_read_is_exact(
        tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2")
    for i in range(4):
        ws.append(numbered_events(250, start=i * 250, day_mod=1), source="test")
    ws.compact()
    on_disk = {p.relative_to(ws.root).as_posix() for p in (ws.root / "events").rglob("*.parquet")}
    assert on_disk == {f.path for f in ws.event_files()}
    assert not retired.listed(ws.catalog)
    glob = str(ws.root / "events" / "**" / "*.parquet")
    assert ws.con.execute("SELECT count(*), count(DISTINCT event_id) FROM read_parquet(?)",
                          [glob]).fetchall() == [(1_000, 1_000)]


def test_a_reader_in_another_process_keeps_the_files_until_it_is_done(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2")
    ws.append(numbered_events(300, day_mod=1), source="test")
    (first,) = ws.event_files()
    code = ("import sys\nfrom cxlens.store.workspace import Workspace\n"
            "ws = Workspace.open(sys.argv[1])\n"
            "with ws.reading():\n    print('reading', flush=True)\n    sys.stdin.readline()\n")
    reader = subprocess.Popen([sys.executable, "-c", code, str(ws.root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdin is not None
    try:
        assert reader.stdout.readline().strip() == "reading"
        ws.append(numbered_events(300, start=300, day_mod=1), source="test")  # merges
        assert first.path in {f.path for f in retired.listed(ws.catalog)}
        assert (ws.root / first.path).exists()
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    ws.append(numbered_events(1, start=900, day_mod=1), source="test")
    assert not (ws.root / first.path).exists()
    assert count(ws.events()) == 601


def test_the_next_write_deletes_files_retired_longer_ago_than_the_grace(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2\nretired_grace_minutes = 0.01")
    with ws.reading():  # a reader that never finishes: the grace decides
        for i in range(2):
            ws.append(numbered_events(100, start=i * 100, day_mod=1), source="test")
        old = retired.listed(ws.catalog)
        assert len(old) == 2 and all((ws.root / f.path).exists() for f in old)
        time.sleep(0.7)  # past the grace of 0.6 s
        ws.append(numbered_events(100, start=200, day_mod=1), source="test")
    assert not any((ws.root / f.path).exists() for f in old)
    assert not {f.path for f in old} & {f.path for f in retired.listed(ws.catalog)}
    on_disk = {p.relative_to(ws.root).as_posix() for p in (ws.root / "events").rglob("*.parquet")}
    assert on_disk == {f.path for f in ws.event_files()} | {f.path for f in retired.listed(ws.catalog)}
    assert count(ws.events()) == 300


def test_compaction_retires_too_and_the_reader_of_the_old_listing_counts_exactly(ws: Workspace) -> None:
    for i in range(4):
        ws.append(numbered_events(500, start=i * 500, day_mod=2), source="test")
    with ws.reading():
        listed = ws.events()
        ws.compact()
        ws.append(numbered_events(10, start=10_000, day_mod=1), source="test")
        assert count(listed) == 2_000
        assert count(ws.events()) == 2_010


def test_recovery_after_a_crash_keeps_retired_files_and_removes_orphans(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2")
    ws.append(numbered_events(100, day_mod=1), source="test")
    with ws.reading():
        listed = ws.events()
        (first,) = ws.event_files()
        ws.append(numbered_events(100, start=100, day_mod=1), source="test")
        (gone,) = [f for f in retired.listed(ws.catalog) if f.path == first.path]
        orphan = ws.root / Path(gone.path).parent / "part-orphan.parquet"
        orphan.write_bytes((ws.root / gone.path).read_bytes())  # renamed in, never committed
        (ws.root / ".writing").touch()  # a writer died mid-write
        ws.append(numbered_events(1, start=500, day_mod=1), source="test")
        assert not orphan.exists()
        assert (ws.root / gone.path).exists()
        assert count(listed) == 100


def test_retention_deletes_the_retired_files_of_expired_days_at_once(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, "merge_fanin = 2")
    with ws.reading():  # a reader keeps the merged-away files, but not from retention
        for i in range(2):
            ws.append(numbered_events(300, start=i * 300, day_mod=3), source="test")  # 2024-05-01..03
        old = [f for f in retired.listed(ws.catalog) if f.part < "2024-05-03"]
        assert old
        retention(ws, None, days=1, today=dt.date(2024, 5, 4))
    assert not any((ws.root / f.path).exists() for f in old)
    assert all(f.part >= "2024-05-03" for f in retired.listed(ws.catalog))


@pytest.mark.parametrize("value", ["-1", '"soon"', "true"])
def test_a_bad_grace_is_refused_with_a_fix(tmp_path: Path, value: str) -> None:
    ws = _workspace(tmp_path, f"retired_grace_minutes = {value}")
    with pytest.raises(WorkspaceError, match="retired_grace_minutes"):
        ws.append(numbered_events(1), source="test")
