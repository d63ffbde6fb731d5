"""The event-id index: duplicates found in O(batch · log day), never a row lost to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxlens.store import eventindex, tiers
from cxlens.store.catalog import FileEntry
from cxlens.store.workspace import Workspace
from support import count, numbered_events


def _ids(ws: Workspace) -> list[str]:
    return sorted(r[0] for r in ws.events().select("event_id").fetchall())


def _runs(ws: Workspace) -> set[str]:
    return {p.relative_to(ws.root / "index").with_suffix(".parquet").as_posix()
            for p in (ws.root / "index").rglob("*.idx")}


def test_reimport_into_a_day_that_already_holds_data_adds_only_the_new_events(ws: Workspace) -> None:
    ws.append(numbered_events(300, day_mod=1), source="test")
    ws.append(numbered_events(300, start=300, day_mod=1), source="test")
    again = pa.concat_tables([numbered_events(300, start=150, day_mod=1),
                              numbered_events(50, start=1000, day_mod=1)])
    result = ws.append(again, source="test")
    assert (result.inserted, result.duplicates) == (50, 300)
    assert _ids(ws) == sorted([f"e{i}" for i in range(600)] + [f"e{i}" for i in range(1000, 1050)])
    assert _runs(ws) == {f.path for f in ws.event_files()}


def test_a_retried_event_repeated_within_and_across_batches_is_stored_once(ws: Workspace) -> None:
    ws.append(numbered_events(100, day_mod=1), source="test")
    batch = pa.concat_tables([numbered_events(3, start=98, day_mod=1)] * 3)  # e98..e100, 3 times
    result = ws.append(batch, source="test")
    assert (result.inserted, result.duplicates) == (1, 8)
    assert count(ws.events()) == 101


def test_hash_collisions_never_drop_or_duplicate_a_row(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # four hash values for all ids: nearly every id collides with stored ones
    monkeypatch.setattr(eventindex, "HASH_SQL", "hash(event_id) % 4")
    for i in range(5):
        ws.append(numbered_events(40, start=i * 40, day_mod=1), source="test")
    assert _ids(ws) == sorted(f"e{i}" for i in range(200))
    result = ws.append(numbered_events(60, start=170, day_mod=1), source="test")
    assert (result.inserted, result.duplicates) == (30, 30)
    assert count(ws.events()) == 230


def test_colliding_hashes_are_told_apart_by_the_exact_id(tmp_path: Path) -> None:
    stored = tmp_path / "stored.parquet"
    new = tmp_path / "new.parquet"
    pq.write_table(pa.table({"event_id": ["a", "b", "c"]}), stored)
    pq.write_table(pa.table({"event_id": ["x", "b", "y", "x"],
                             "received_at": pa.array([2, 1, 1, 1], pa.int64())}), new)
    # every id hashes to 7: the index says "maybe" for all of them
    stored_run = eventindex.sort_run(np.full(3, 7, np.uint64))
    new_run = eventindex.sort_run(np.full(4, 7, np.uint64))
    entry = FileEntry("stored.parquet", "events", "p", "d", 3, 0, 1, False)
    drop = eventindex.duplicate_rows(tmp_path, new, new_run, [(entry, stored_run)])
    # "b" is stored; the first "x" was received later than the second
    assert sorted(drop.tolist()) == [0, 1]


@pytest.mark.parametrize("damage", ["delete", "truncate", "other_hash"])
def test_a_missing_or_damaged_index_is_rebuilt_from_the_parquet_files(ws: Workspace, damage: str) -> None:
    ws.append(numbered_events(200, day_mod=1), source="test")
    ws.append(numbered_events(100, start=200, day_mod=1), source="test")
    for path in (ws.root / "index").rglob("*.idx"):
        if damage == "delete":
            path.unlink()
        elif damage == "truncate":
            path.write_bytes(path.read_bytes()[:50])
        else:  # written under another DuckDB's hash function
            data = bytearray(path.read_bytes())
            data[16:24] = (12345).to_bytes(8, "little")
            path.write_bytes(bytes(data))
    result = ws.append(numbered_events(310, day_mod=1), source="test")
    assert (result.inserted, result.duplicates) == (10, 300)
    assert count(ws.events()) == 310
    assert _runs(ws) == {f.path for f in ws.event_files()}


def test_many_small_appends_keep_a_day_at_a_few_files_and_every_event_once(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    for i in range(60):
        ws.append(numbered_events(25, start=i * 25, day_mod=1), source="test")
    files = ws.event_files()
    # fewer than merge_fanin files per size tier
    fanin = tiers.DEFAULT_FANIN
    assert len(files) <= (fanin - 1) * (1 + max(tiers.tier(f.rows, fanin) for f in files))
    assert len(files) < 2 * fanin
    assert _ids(ws) == sorted(f"e{i}" for i in range(1500))
    assert _runs(ws) == {f.path for f in files}
    assert ws.append(numbered_events(1500, day_mod=1), source="test").inserted == 0


def test_files_merged_by_tier_keep_every_row_and_their_index(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text(
        (ws.root / "cxlens.toml").read_text() + "\n[store]\nmerge_fanin = 4\n")
    ws = Workspace.open(ws.root)
    for i in range(4):
        ws.append(numbered_events(20_000, start=i * 20_000, day_mod=1), source="test")
    (merged,) = ws.event_files()  # four files of one tier became one
    assert merged.rows == 80_000 and not merged.sorted
    run = eventindex.load_run(eventindex.run_path(ws.root, merged.path), merged.rows,
                              eventindex.fingerprint(ws.con))
    assert run is not None
    assert np.all(run.hashes[1:] >= run.hashes[:-1])
    # each hash sits at the row of its id
    ids = pq.read_table(ws.root / merged.path, columns=["event_id"]).column(0)
    rebuilt = eventindex.build_run(ws.con, ws.root / merged.path)
    assert np.array_equal(run.hashes, rebuilt.hashes)
    sample = np.arange(0, merged.rows, 997)
    assert [ids[int(r)].as_py() for r in run.rows[sample]] == \
           [ids[int(r)].as_py() for r in rebuilt.rows[sample]]


def test_compacted_then_appended_day_dedupes_against_the_sorted_file(ws: Workspace) -> None:
    for i in range(3):
        ws.append(numbered_events(100, start=i * 100, day_mod=1), source="test")
    ws.compact()
    (sorted_file,) = ws.event_files()
    assert sorted_file.sorted and _runs(ws) == set()  # built when next needed
    result = ws.append(numbered_events(350, day_mod=1), source="test")
    assert result.inserted == 50
    assert count(ws.events()) == 350
    assert _runs(ws) == {f.path for f in ws.event_files()}
    assert any(f.sorted for f in ws.event_files())  # merging leaves the sorted file alone


def test_an_erased_person_is_not_remembered_by_the_index(ws: Workspace) -> None:
    from cxlens.privacy.erase import erase

    ws.append(numbered_events(200, day_mod=1), source="test")
    ws.append(numbered_events(200, start=200, day_mod=1), source="test")
    before = count(ws.events())
    erase(ws, None, "a17")
    erased = before - count(ws.events())
    assert erased > 0
    assert not any(p.suffix == ".parquet" for p in (ws.root / "index").rglob("*"))
    # the erased events are gone, so storing them again stores them
    result = ws.append(numbered_events(400, day_mod=1), source="test")
    assert result.inserted == erased
    assert _runs(ws) == {f.path for f in ws.event_files()}
