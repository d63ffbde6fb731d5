"""XES event logs: cases become persons, events keep their attributes."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from importfiles import batches, events, journeys_of, write_mapping, write_text

from cxlens.errors import BadRowsError, ImportError_
from cxlens.ingest.importers import import_file
from cxlens.store.workspace import Workspace


def xes(cases: dict[str, dict[str, Any]]) -> str:
    """``{"case-1": {"attrs": {...}, "events": [{"name":..., "at":..., "resource":...}]}}``."""
    out = ['<?xml version="1.0" encoding="UTF-8" ?>',
           '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">',
           '<global scope="event"><string key="concept:name" value="UNKNOWN"/></global>']
    for case, spec in cases.items():
        out.append("<trace>")
        out.append(f'<string key="concept:name" value="{case}"/>')
        for key, value in spec.get("attrs", {}).items():
            tag = "float" if isinstance(value, float) else "string"
            out.append(f'<{tag} key="{key}" value="{value}"/>')
        for ev in spec["events"]:
            out.append("<event>")
            out.append(f'<string key="concept:name" value="{ev["name"]}"/>')
            out.append('<string key="lifecycle:transition" value="complete"/>')
            if "resource" in ev:
                out.append(f'<string key="org:resource" value="{ev["resource"]}"/>')
            if ev.get("at") is not None:
                out.append(f'<date key="time:timestamp" value="{ev["at"]}"/>')
            out.append("</event>")
        out.append("</trace>")
    out.append("</log>")
    return "\n".join(out)


LOANS = {
    "app-1": {"attrs": {"AMOUNT_REQ": 5000.0}, "events": [
        {"name": "A_SUBMITTED", "at": "2011-10-01T00:38:44.546+02:00", "resource": "112"},
        {"name": "A_ACCEPTED", "at": "2011-10-01T11:00:00.000+02:00", "resource": "10862"},
    ]},
    "app-2": {"attrs": {"AMOUNT_REQ": 700.0}, "events": [
        {"name": "A_SUBMITTED", "at": "2011-10-02T09:00:00.000+02:00"},
    ]},
}


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_xes_cases_become_persons_with_attributes_in_properties(
    ws: Workspace, tmp_path: Path, gz: bool
) -> None:
    file = write_text(tmp_path / ("loans.xes.gz" if gz else "loans.xes"), xes(LOANS), gz=gz)

    report = import_file(ws, file, format="xes")

    assert (report.rows_read, report.inserted, report.rejected) == (3, 3, 0)
    assert journeys_of(ws) == {"app-1": ["A_SUBMITTED", "A_ACCEPTED"], "app-2": ["A_SUBMITTED"]}
    first = events(ws)[0]
    assert first["timestamp"] == datetime(2011, 9, 30, 22, 38, 44, 546000, tzinfo=UTC)
    assert first["properties"] == {"lifecycle:transition": "complete", "org:resource": "112",
                                   "AMOUNT_REQ": 5000.0}


def test_xes_reimport_adds_nothing_and_events_at_the_same_time_are_kept(
    ws: Workspace, tmp_path: Path
) -> None:
    twins = {"c": {"events": [{"name": "W_Call", "at": "2011-10-01T10:00:00+00:00"}] * 2}}
    file = write_text(tmp_path / "twins.xes", xes(twins))

    assert import_file(ws, file, format="xes").inserted == 2
    assert import_file(ws, file, format="xes").inserted == 0


def test_xes_person_attribute_and_channel_come_from_the_mapping(ws: Workspace, tmp_path: Path) -> None:
    cases = {"t1": {"attrs": {"customer": "K-9", "via": "Desk"}, "events": [
        {"name": "Received", "at": "2024-01-02T10:00:00+01:00"}]}}
    file = write_text(tmp_path / "log.xes", xes(cases))
    mapping = write_mapping(tmp_path / "m.toml", """
[xes]
person = "customer"
person_field = "anonymous_id"
channel_attribute = "via"
channel_map = { Desk = "store" }
""")
    import_file(ws, file, format="xes", mapping=mapping)

    (e,) = events(ws)
    assert (e["anonymous_id"], e["channel"]) == ("K-9", "store")
    assert e["properties"]["via"] == "Desk" and "customer" not in e["properties"]


def test_xes_events_are_a_process_channel_not_direct_web_traffic(ws: Workspace, tmp_path: Path) -> None:
    from cxlens.commands.core import workspace_info

    cases = {"t1": {"attrs": {"via": "Desk"}, "events": [{"name": "Received", "at": "2024-01-02T10:00:00Z"}]},
             "t2": {"attrs": {"via": ""}, "events": [{"name": "Received", "at": "2024-01-02T11:00:00Z"}]},
             "t3": {"events": [{"name": "Received", "at": "2024-01-02T12:00:00Z"}]}}
    file = write_text(tmp_path / "log.xes", xes(cases))

    import_file(ws, file, format="xes", project="plain")
    assert workspace_info(ws, "plain")["by_channel"] == {"process": 3}

    mapping = write_mapping(tmp_path / "m.toml", '[xes]\nchannel_attribute = "via"\n'
                                                 'channel_map = { Desk = "store" }\n')
    import_file(ws, file, format="xes", mapping=mapping, project="mapped")
    # the attribute where a case has it, the default where it is missing or empty
    assert {e["user_id"]: e["channel"] for e in events(ws, "mapped")} == {
        "t1": "store", "t2": "process", "t3": "process"}

    fixed = write_mapping(tmp_path / "c.toml", '[xes]\nchannel = "support"\n')
    import_file(ws, file, format="xes", mapping=fixed, project="fixed")
    assert {e["channel"] for e in events(ws, "fixed")} == {"support"}


def test_xes_events_without_time_or_person_are_rejected(ws: Workspace, tmp_path: Path) -> None:
    text = xes({"ok": {"events": [{"name": "A", "at": "2024-01-01T00:00:00Z"},
                                  {"name": "B", "at": None}]}})
    text = text.replace("</log>", '<trace><event><string key="concept:name" value="X"/>'
                        '<date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event></trace></log>')
    file = write_text(tmp_path / "log.xes", text)

    report = import_file(ws, file, format="xes")

    assert (report.inserted, report.rejected) == (1, 2)
    with (ws.root / str(report.rejects_file)).open() as fh:
        reasons = [(r["row"], r["column"], r["reason"]) for r in csv.DictReader(fh)]
    assert reasons == [("2", "time:timestamp", "missing time:timestamp"),
                       ("3", "concept:name", "missing person id: the trace has no 'concept:name' attribute")]
    with pytest.raises(BadRowsError):
        import_file(ws, file, format="xes", strict=True, project="other")
    assert len(batches(ws)) == 1


def test_broken_xml_is_one_clear_error_and_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    file = write_text(tmp_path / "log.xes", xes(LOANS)[:-200])

    with pytest.raises(ImportError_, match="not valid XES/XML"):
        import_file(ws, file, format="xes")
    assert events(ws) == [] and batches(ws) == []


@pytest.mark.parametrize(("fmt", "cut"), [("xes", 0.6), ("segment", 0.6), ("xes", 0.0)],
                         ids=["xes-cut", "segment-cut", "xes-header-only"])
def test_a_cut_off_gzip_file_is_one_clear_error_and_writes_nothing(
        ws: Workspace, tmp_path: Path, fmt: str, cut: float) -> None:
    import gzip
    import json

    text = xes(LOANS) if fmt == "xes" else "\n".join(
        json.dumps({"type": "track", "userId": f"u{i}", "event": "E", "timestamp": "2024-05-01T10:00:00Z",
                    "messageId": f"m{i}", "properties": {"pad": "x" * 50}}) for i in range(2000))
    whole = gzip.compress(text.encode())
    file = tmp_path / f"log.{fmt}.gz"
    file.write_bytes(whole[: max(int(len(whole) * cut), 10)])
    # EOFError used to reach click, which took it for Ctrl-D: "aborted", exit code 130
    with pytest.raises(ImportError_, match="cut off"):
        import_file(ws, file, format=fmt)
    assert events(ws) == [] and batches(ws) == []


def test_xes_options_of_the_wrong_type_are_a_mapping_error(ws: Workspace, tmp_path: Path) -> None:
    from cxlens.errors import MappingError

    file = write_text(tmp_path / "log.xes", xes(LOANS))
    for text, message in [('[xes]\nlifecycle_in_name = "no"\n', "true or false"),  # "no" was true
                          ("[xes]\nperson = 5\n", "xes.person"),
                          ("[xes]\nchannel = 5\n", "xes.channel"),
                          ('[xes]\nchannel = ""\n', "xes.channel must not be empty"),
                          # a [fields] section was ignored without a word
                          ('[fields]\ntimestamp = "time:timestamp"\nevent = "concept:name"\n',
                           "log.xes is read as xes: an XES log is read by its \\[xes\\] section")]:
        with pytest.raises(MappingError, match=message):
            import_file(ws, file, format="xes", mapping=write_mapping(tmp_path / "m.toml", text))
    assert batches(ws) == []
