"""Segment / RudderStack archives: every shape a warehouse or S3 dump has."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from importfiles import events, journeys_of, write_text

from cxlens.errors import BadRowsError
from cxlens.ingest.importers import import_file
from cxlens.store.workspace import Workspace


def msg(person: str, event: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "userId": person, "event": event, "timestamp": at,
            "messageId": f"{person}-{event}-{at}", "properties": {"plan": "pro"}, **extra}


ANNA = [msg("anna", "Signed Up", "2024-05-01T10:00:00Z"),
        msg("anna", "Order Completed", "2024-05-01T10:05:00Z", properties={"revenue": 49.0})]
BEN = [msg("ben", "Signed Up", "2024-05-02T08:00:00Z")]


def shapes() -> dict[str, str]:
    return {
        "batch-document": json.dumps({"batch": ANNA + BEN, "sentAt": "2024-05-02T09:00:00Z"}, indent=2),
        "json-array": json.dumps(ANNA + BEN),
        "jsonl-messages": "\n".join(json.dumps(m) for m in ANNA + BEN) + "\n",
        "jsonl-batches": json.dumps({"batch": ANNA, "sentAt": "2024-05-01T11:00:00Z"}) + "\n"
                         + json.dumps({"batch": BEN}) + "\n",
    }


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", list(shapes()))
def test_every_archive_shape_gives_the_same_journeys(
    ws: Workspace, tmp_path: Path, shape: str, gz: bool
) -> None:
    # the name says nothing: gzip is told by its magic bytes
    file = write_text(tmp_path / "archive.data", shapes()[shape], gz=gz)

    report = import_file(ws, file, format="segment")

    assert (report.inserted, report.rejected) == (3, 0)
    assert journeys_of(ws) == {"anna": ["Signed Up", "Order Completed"], "ben": ["Signed Up"]}
    assert import_file(ws, file, format="segment").inserted == 0


def test_bad_messages_and_lines_are_rejected_with_line_and_field(ws: Workspace, tmp_path: Path) -> None:
    lines = [json.dumps(ANNA[0]), "{not json", json.dumps({**BEN[0], "type": "purchase"}),
             json.dumps({"type": "track", "event": "X", "timestamp": "2024-05-01T00:00:00Z"})]
    file = write_text(tmp_path / "dump.jsonl", "\n".join(lines) + "\n")

    report = import_file(ws, file, format="segment")

    assert (report.inserted, report.rejected) == (1, 3)
    with (ws.root / str(report.rejects_file)).open() as fh:
        got = [(r["line"], r["column"], r["reason"][:20]) for r in csv.DictReader(fh)]
    assert got[0] == ("2", "line", "invalid JSON: the li")
    assert [g[:2] for g in got[1:]] == [("3", "type"), ("4", "userId")]
    assert [e["user_id"] for e in events(ws)] == ["anna"]
    with pytest.raises(BadRowsError):
        import_file(ws, file, format="segment", strict=True, project="strict")


@pytest.mark.parametrize("pretty", [False, True], ids=["one-line", "pretty-printed"])
def test_a_bad_message_in_a_batch_is_named_by_its_path_and_kept_alone(
    ws: Workspace, tmp_path: Path, pretty: bool
) -> None:
    # the reject said "line 1, column type" and kept the whole batch as its raw record
    doc = {"batch": [ANNA[0], {"type": "bogus", "userId": "x"}, BEN[0]], "sentAt": "2024-05-02T09:00:00Z"}
    file = write_text(tmp_path / "batch.json", json.dumps(doc, indent=2 if pretty else None))

    report = import_file(ws, file, format="segment")

    assert (report.inserted, report.rejected) == (2, 1)
    with (ws.root / str(report.rejects_file)).open() as fh:
        (bad,) = csv.DictReader(fh)
    assert (bad["row"], bad["column"]) == ("2", "batch[1].type")
    assert json.loads(bad["raw"]) == {"type": "bogus", "userId": "x"}
    assert report.first_rejects[0].endswith("column batch[1].type: unknown type 'bogus'; use track, page, "
                                            "screen, identify, group or alias")


def test_an_archived_batch_keeps_its_times_and_receivedat_corrects_a_skewed_clock(
    ws: Workspace, tmp_path: Path
) -> None:
    # a saved request body has sentAt but no receivedAt: the sentAt correction was made
    # against the time of the import, which moved 2024's events to the import's day
    skewed = msg("ben", "Signed Up", "2024-05-02T08:00:00Z", receivedAt="2024-05-02T07:00:05Z")
    file = write_text(tmp_path / "saved.json", json.dumps(
        {"batch": [*ANNA, skewed], "sentAt": "2024-05-02T08:00:05Z"}))

    import_file(ws, file, format="segment")

    times = {(e["user_id"], e["event"]): e["timestamp"].isoformat() for e in events(ws)}
    assert times == {
        ("anna", "Signed Up"): "2024-05-01T10:00:00+00:00",
        ("anna", "Order Completed"): "2024-05-01T10:05:00+00:00",
        # its clock was an hour ahead: received 5 s after it was sent
        ("ben", "Signed Up"): "2024-05-02T07:00:00+00:00",
    }
