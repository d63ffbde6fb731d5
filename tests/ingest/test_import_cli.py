"""``cxlens import`` as a user runs it: one JSON report, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from importfiles import write_csv, write_mapping

from cxlens.store.workspace import Workspace
from support import run_cli as run

MAPPING = """
[fields]
timestamp = "at"
user_id = "customer"
event = { value = "Ticket Opened" }
channel = { value = "support" }
"""
TICKETS = {"anna": [{"at": "2024-05-01 10:00:00", "subject": "Lieferung fehlt"}],
           "ben": [{"at": "2024-05-02 09:00:00", "subject": "Rechnung"}]}




def test_import_json_prints_exactly_one_report(ws: Workspace, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    file = write_csv(tmp_path / "helpdesk.csv", TICKETS)
    mapping = write_mapping(tmp_path / "helpdesk.toml", MAPPING)

    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "--format", "csv",
                       "--mapping", str(mapping), "--project", "support", "--source", "zammad",
                       "--json")

    assert code == 0
    report = json.loads(out)
    assert {k: report[k] for k in ("rows_read", "inserted", "duplicates", "rejected", "project",
                                   "source")} == {
        "rows_read": 2, "inserted": 2, "duplicates": 0, "rejected": 0, "project": "support",
        "source": "zammad"}
    assert report["seconds"] >= 0 and report["events_per_second"] > 0
    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping),
                       "-p", "support", "--json")
    assert (code, json.loads(out)["inserted"]) == (0, 0)


def test_user_mistakes_are_one_line_on_stderr_with_exit_code_2(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write_csv(tmp_path / "helpdesk.csv", TICKETS)
    bad_mapping = write_mapping(tmp_path / "bad.toml", MAPPING.replace('"customer"', '"kunde"'))

    for argv in (["import", str(file)],  # csv without a mapping
                 ["import", str(file), "-m", str(bad_mapping)],
                 ["import", str(tmp_path / "missing.csv"), "-m", str(bad_mapping)],
                 ["import", str(file), "--format", "xlsx"],
                 ["import", str(tmp_path), "-m", str(bad_mapping)]):
        code, out, err = run(capsys, "-w", str(ws.root), *argv)
        assert code == 2, argv
        assert out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    # a directory was "not found"
    assert "is a directory; pass one file" in err
    book = tmp_path / "Bestellungen.xlsx"
    book.write_bytes(b"PK\x03\x04")
    code, _, err = run(capsys, "-w", str(ws.root), "import", str(book))
    assert code == 2 and "save the sheet as CSV" in err


def test_strict_json_reports_the_bad_rows_and_imports_nothing(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = {**TICKETS, "cara": [{"at": "irgendwann", "subject": "?"}]}
    file = write_csv(tmp_path / "helpdesk.csv", people)
    mapping = write_mapping(tmp_path / "helpdesk.toml", MAPPING)

    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping),
                       "--strict", "--json")

    assert code == 2
    doc = json.loads(out)
    assert doc["error"] == "bad_rows"
    assert doc["rejects"][0] | {"raw": None} == {"row": 3, "line": 4, "column": "at", "raw": None,
                                                 "reason": doc["rejects"][0]["reason"]}
    assert ws.events().aggregate("count(*)").fetchall() == [(0,)]


def test_the_rejects_file_is_printed_as_a_path_that_opens_from_anywhere(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --json printed "rejects/...csv", relative to the workspace, not to where the user is
    people = {**TICKETS, "cara": [{"at": "irgendwann", "subject": "?"}]}
    file = write_csv(tmp_path / "helpdesk.csv", people)
    mapping = write_mapping(tmp_path / "helpdesk.toml", MAPPING)

    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping), "--json")

    assert code == 0
    rejects = Path(json.loads(out)["rejects_file"])
    assert rejects.is_absolute() and "irgendwann" in rejects.read_text()
    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping), "-p", "other")
    assert code == 0 and str(ws.root / "rejects") in out.replace("\n", "")


def test_a_json_file_of_ones_own_events_is_not_silently_read_as_a_segment_archive(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "tickets.json"  # .json is taken for a Segment archive
    file.write_text(json.dumps({"customer": "anna", "at": "2024-05-01 10:00:00"}) + "\n")
    mapping = write_mapping(tmp_path / "helpdesk.toml", MAPPING)

    # the mapping was ignored and every line rejected for its missing "type"
    code, out, err = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping))
    assert code == 2 and out == "" and "--format jsonl" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file))
    assert code == 0 and "pass --format jsonl --mapping FILE" in out.replace("\n", " ")
    code, out, _ = run(capsys, "-w", str(ws.root), "import", str(file), "-m", str(mapping),
                       "--format", "jsonl", "--json")
    assert (code, json.loads(out)["inserted"]) == (0, 1)
