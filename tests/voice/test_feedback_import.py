"""``feedback import``: reviews, tickets, Zendesk and NPS exports into the feedback table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cxlens.errors import BadRowsError, ImportError_
from cxlens.store.workspace import Workspace
from cxlens.voice.feedback_import import import_feedback

REVIEWS = """review_id;Datum;Sterne;Titel;Kommentar;E-Mail
r1;03.05.2025 10:15;5;Top;Schnelle Lieferung, alles bestens;Ann@Example.de
r2;2025-05-04T09:00:00Z;1;;Paket kam zu spät und war beschädigt;ben@example.de
r3;05.05.2025;4;;;
r4;kein Datum;3;;Geht so;
r5;06.05.2025;9;;Zu viele Sterne;
"""


def _rows(ws: Workspace, project: str = "default") -> list[dict[str, object]]:
    d = ws.root / "tables" / "feedback" / f"project={project}"
    return [r for f in sorted(d.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_reviews_csv_with_german_headers_lands_in_the_feedback_table(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "reviews.csv"
    f.write_text(REVIEWS, encoding="utf-8")
    rep = import_feedback(ws, f, "reviews")
    assert (rep.inserted, rep.rejected) == (3, 2)
    rows = {r["feedback_id"]: r for r in _rows(ws)}
    assert set(rows) == {"reviews:r1", "reviews:r2", "reviews:r3"}
    r1 = rows["reviews:r1"]
    assert r1["kind"] == "review" and r1["score"] == 5.0 and r1["scale_max"] == 5.0
    assert r1["text"] == "Top Schnelle Lieferung, alles bestens"
    assert r1["language"] == "de" and r1["user_id"] == "ann@example.de"
    assert str(rows["reviews:r2"]["timestamp"]).startswith("2025-05-04 09:00")
    assert rows["reviews:r3"]["text"] is None  # a score alone is feedback too
    rejects = Path(rep.rejects_file or "").read_text()
    assert "cannot read time 'kein Datum'" in rejects and "outside 1..5" in rejects


def test_importing_the_same_file_twice_stores_it_once(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "reviews.csv"
    f.write_text(REVIEWS, encoding="utf-8")
    import_feedback(ws, f, "reviews")
    again = import_feedback(ws, f, "reviews")
    assert (again.inserted, again.duplicates) == (0, 3)
    assert len(_rows(ws)) == 3
    assert not list((ws.root / "_tmp").glob("*.parquet"))


def test_strict_import_writes_nothing_when_a_row_is_bad(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "reviews.csv"
    f.write_text(REVIEWS, encoding="utf-8")
    with pytest.raises(BadRowsError, match="2 bad rows"):
        import_feedback(ws, f, "reviews", strict=True)
    assert _rows(ws) == []


def test_zendesk_export_keeps_requester_channel_and_satisfaction(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "zendesk.json"
    f.write_text(json.dumps({"tickets": [
        {"id": 101, "created_at": "2025-06-01T08:00:00Z", "subject": "Wo ist mein Paket?",
         "description": "Die Sendung hängt seit einer Woche.", "type": "problem",
         "requester": {"id": 9, "email": "c@example.com"}, "via": {"channel": "email"},
         "satisfaction_rating": {"score": "bad"}, "tags": ["lieferung"]},
        {"id": 102, "created_at": "2025-06-02T08:00:00Z", "subject": "Beschwerde", "type": "complaint",
         "description": "Ware defekt", "requester": {"email": "d@example.com"}, "via": {"channel": "web"},
         "satisfaction_rating": {"score": "unoffered"}},
    ]}), encoding="utf-8")
    rep = import_feedback(ws, f, "zendesk", project="shop")
    assert rep.inserted == 2
    rows = {r["feedback_id"]: r for r in _rows(ws, "shop")}
    t = rows["zendesk:101"]
    assert (t["kind"], t["channel"], t["score"], t["scale_max"]) == ("ticket", "email", 0.0, 1.0)
    assert t["user_id"] == "9" and "Sendung" in t["text"]
    assert json.loads(t["properties"])["tags"] == ["lieferung"]
    assert rows["zendesk:102"]["kind"] == "complaint" and rows["zendesk:102"]["score"] is None


def test_nps_export_with_a_mapping_names_the_columns(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "nps.csv"
    f.write_text("resp,when,how_likely,why,cust\n1,2025-01-02,9,Great service,u1\n2,2025-01-03,3,,u2\n")
    m = tmp_path / "m.toml"
    m.write_text('[fields]\nid = "resp"\ntimestamp = "when"\nscore = "how_likely"\ntext = "why"\n'
                 'user_id = "cust"\n[defaults]\ntouchpoint = "checkout"\n')
    rep = import_feedback(ws, f, "nps", mapping=m)
    assert rep.inserted == 2
    rows = {r["feedback_id"]: r for r in _rows(ws)}
    assert rows["nps:1"]["kind"] == "nps" and rows["nps:1"]["scale_max"] == 10.0
    assert rows["nps:1"]["touchpoint"] == "checkout" and rows["nps:1"]["language"] == "en"
    assert rows["nps:2"]["user_id"] == "u2"


def test_unknown_format_and_missing_file_are_one_line_errors(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(ImportError_, match="unknown feedback format"):
        import_feedback(ws, tmp_path / "x.csv", "surveymonkey")
    with pytest.raises(ImportError_, match="does not exist"):
        import_feedback(ws, tmp_path / "x.csv", "reviews")
