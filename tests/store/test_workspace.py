from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

import cxlens
from cxlens.errors import WorkspaceError, WorkspaceNotFound
from cxlens.model.events import EVENTS_SCHEMA
from cxlens.store.workspace import Workspace
from support import count, journeys, numbered_events, ts


def test_every_column_round_trips_unchanged(ws: Workspace) -> None:
    table = journeys(
        {
            "alice": [
                {
                    "at": "2024-05-01 10:00:00.123456",
                    "type": "track",
                    "event": "Order Completed",
                    "event_id": "msg-1",
                    "anonymous_id": "anon-1",
                    "user_id": "alice",
                    "account_id": "acme",
                    "channel": "store",
                    "session_id": "s-1",
                    "properties": {"order_id": "o-1", "items": [1, 2]},
                    "context": {"locale": "de-DE", "ip": "10.0.0.0"},
                    "revenue": 99.5,
                    "currency": "eur",
                    "source": "shop-backend",
                }
            ]
        }
    )
    ws.append(table, source="test", project="shop")
    row = ws.events().to_arrow_table().to_pylist()[0]
    assert row["event_id"] == "msg-1"
    assert row["timestamp"] == ts("2024-05-01 10:00:00.123456")
    assert (row["user_id"], row["anonymous_id"], row["account_id"]) == ("alice", "anon-1", "acme")
    assert (row["channel"], row["session_id"], row["source"]) == ("store", "s-1", "shop-backend")
    assert json.loads(row["properties"]) == {"order_id": "o-1", "items": [1, 2]}
    assert json.loads(row["context"]) == {"locale": "de-DE", "ip": "10.0.0.0"}
    assert (row["revenue"], row["currency"]) == (99.5, "EUR")
    assert (row["project"], str(row["date"])) == ("shop", "2024-05-01")
    assert ws.events().to_arrow_table().schema.names == EVENTS_SCHEMA.names


def test_events_become_pandas_polars_and_arrow(ws: Workspace) -> None:
    ws.append(numbered_events(10), source="test")
    rel = ws.events()
    assert rel.to_arrow_table().num_rows == 10
    assert len(rel.df()) == 10
    assert rel.pl().height == 10


def test_reimporting_the_same_events_adds_nothing(ws: Workspace) -> None:
    first = ws.append(numbered_events(500), source="test")
    second = ws.append(numbered_events(500), source="test")
    assert (first.inserted, second.inserted, second.duplicates) == (500, 0, 500)
    assert count(ws.events()) == 500


def test_events_without_ids_get_content_ids_so_reimports_dedupe(tmp_path: Path) -> None:
    people = {"bob": [{"at": "2024-05-01 10:00", "event": "Home"}, {"at": "2024-05-01 10:05", "event": "Cart"}]}
    a, b = Workspace.init(tmp_path / "a"), Workspace.init(tmp_path / "b")
    a.append(journeys(people), source="test")
    a.append(journeys(people), source="test")
    b.append(journeys(people), source="test")
    ids_a = sorted(r[0] for r in a.events().select("event_id").fetchall())
    ids_b = sorted(r[0] for r in b.events().select("event_id").fetchall())
    assert len(ids_a) == 2
    assert ids_a == ids_b


def test_duplicates_inside_one_batch_are_stored_once(ws: Workspace) -> None:
    batch = pa.concat_tables([numbered_events(50), numbered_events(50)])
    result = ws.append(batch, source="test")
    assert (result.rows_in, result.inserted, result.duplicates) == (100, 50, 50)


def test_events_are_partitioned_by_project_and_utc_date(ws: Workspace) -> None:
    people = {"c": [{"at": "2024-05-01T23:30:00-02:00", "event": "Late"}]}
    ws.append(journeys(people), source="test", project="web")
    (entry,) = ws.event_files()
    assert entry.path.startswith("events/project=web/date=2024-05-02/")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles"])
def test_the_partition_is_the_utc_date_whatever_the_machines_time_zone(
    ws: Workspace, zone: str
) -> None:
    # DuckDB takes its session time zone from the machine (TZ); the partition must not
    ws.con.execute("SET TimeZone = ?", [zone]).fetchall()
    people = {"c": [{"at": "2024-05-01T23:30:00Z", "event": "Late"},
                    {"at": "2024-05-02T00:30:00Z", "event": "Early"},
                    {"at": "1969-12-31T23:59:59.999999Z", "event": "Before the epoch"},
                    {"at": "1970-01-01T00:00:00Z", "event": "The epoch"}]}
    ws.append(journeys(people), source="test", project="web")
    days = sorted(e.part for e in ws.event_files())
    assert days == ["1969-12-31", "1970-01-01", "2024-05-01", "2024-05-02"]


def test_compaction_merges_files_and_sorts_by_person_then_time(ws: Workspace) -> None:
    for start in range(0, 300, 100):
        ws.append(numbered_events(100, start=start, day_mod=1), source="test")
    assert len(ws.event_files()) == 3
    result = ws.compact()
    assert (result.files_before, result.files_after, result.rows) == (3, 1, 300)
    rows = ws.events().select("anonymous_id, timestamp").fetchall()
    assert rows == sorted(rows)
    assert ws.compact().partitions == 0  # nothing left to do


def test_unknown_columns_are_refused_with_a_fix(ws: Workspace) -> None:
    table = numbered_events(1).append_column("colour", pa.array(["red"]))
    with pytest.raises(WorkspaceError, match="map them into 'properties'"):
        ws.append(table, source="test")
    assert ws.event_files() == []


def test_opening_a_missing_workspace_names_the_init_command(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound, match="cxlens init"):
        cxlens.open(tmp_path / "nope")


def test_invalid_project_names_are_refused(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError.__mro__[1], match="invalid project name"):
        ws.append(numbered_events(1), source="test", project="../etc")


def test_files_a_crashed_writer_left_behind_are_never_read(ws: Workspace) -> None:
    ws.append(numbered_events(10, day_mod=1), source="test")
    (entry,) = ws.event_files()
    orphan = ws.root / Path(entry.path).parent / "part-orphan.parquet"
    orphan.write_bytes((ws.root / entry.path).read_bytes())  # renamed in, never committed
    (ws.root / ".writing").touch()  # what a writer that died mid-write leaves
    assert count(ws.events()) == 10
    ws.append(numbered_events(5, start=100), source="test")  # the next writer cleans up
    assert not orphan.exists()


def test_a_day_with_too_many_small_files_is_merged_by_the_next_append(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text(
        (ws.root / "cxlens.toml").read_text() + "\n[store]\nmerge_fanin = 3\n"
    )
    ws = Workspace.open(ws.root)
    for i in range(6):
        ws.append(numbered_events(10, start=i * 10, day_mod=1), source="test")
    assert len(ws.event_files()) <= 2  # fewer than merge_fanin files per size tier
    assert count(ws.events()) == 60
