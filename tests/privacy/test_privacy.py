"""Data protection: consent honoured, access, erasure everywhere, retention, pseudonyms."""

from __future__ import annotations

import datetime as dt
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from cxlens.errors import ConfigError
from cxlens.identity import resolve, with_person
from cxlens.identity.profiles import build_profiles
from cxlens.ingest import wal
from cxlens.privacy.consent import consent_state, honour_consent
from cxlens.privacy.erase import erase
from cxlens.privacy.export import export
from cxlens.privacy.retention import retention
from cxlens.privacy.settings import pseudonymise
from cxlens.simulate import simulate
from cxlens.store import retired
from cxlens.store.workspace import Workspace
from support import count, journeys


def consent(at: str, user: str, **purposes: str) -> dict[str, Any]:
    return {"at": at, "type": "track", "event": "Consent Updated", "user_id": user, "properties": purposes}


def test_persons_who_denied_analytics_are_left_out_of_analyses(ws: Workspace) -> None:
    ws.append(journeys({
        "alice": [{"at": "2024-05-01 09:00", "event": "Home", "anonymous_id": "a-dev"},
                  {"at": "2024-05-01 09:01", "type": "identify", "anonymous_id": "a-dev", "user_id": "alice"},
                  consent("2024-05-01 09:02", "alice", analytics="granted", marketing_email="granted"),
                  consent("2024-05-03 12:00", "alice", analytics="denied")],
        "bob": [{"at": "2024-05-01 10:00", "event": "Home"}, consent("2024-05-01 10:01", "bob", analytics="denied"),
                consent("2024-05-02 10:01", "bob", analytics="granted")],
    }), source="test")
    resolve(ws)
    st = consent_state(ws, None, "a-dev")
    assert not st.allows("analytics") and st.allows("marketing_email")
    assert st.purposes["analytics"].at.startswith("2024-05-03T12:00") and st.purposes["analytics"].source == "test"
    kept = ws.query(lambda r: honour_consent(ws, r).select("user_id, anonymous_id").fetchall())
    assert {u for u, _ in kept} == {"bob"}  # alice's anonymous visit before login is gone too
    assert consent_state(ws, None, "bob").allows("analytics")


def test_access_export_holds_ids_events_traits_and_consent(ws: Workspace, tmp_path: Path) -> None:
    ws.append(journeys({"kim": [
        {"at": "2024-05-01 09:00", "event": "Home", "anonymous_id": "k-dev"},
        {"at": "2024-05-01 09:05", "type": "identify", "anonymous_id": "k-dev", "user_id": "kim",
         "properties": {"email": "kim@example.de"}},
        consent("2024-05-01 09:06", "kim", analytics="granted")]}), source="test")
    resolve(ws)
    res = export(ws, None, "kim@example.de", tmp_path / "kim.zip")
    assert res.events == 3
    with zipfile.ZipFile(tmp_path / "kim.zip") as z:
        ids = json.loads(z.read("ids.json"))
        assert {i["id"] for i in ids["ids"]} == {"k-dev", "kim", "kim@example.de"}
        assert json.loads(z.read("profile.json"))["traits"]["email"] == "kim@example.de"
        assert json.loads(z.read("consent.json"))["purposes"]["analytics"]["state"] == "granted"
        assert next(e["event"] for e in json.loads(z.read("events.json"))) == "Home"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def _names_in_workspace(root: Path, needles: list[str]) -> list[str]:
    """Independent check: decoded values of every Parquet file, raw bytes of the rest."""
    con = duckdb.connect()
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.suffix == ".parquet":
                table = pq.read_table(path)
                text = " ".join(str(c.to_pylist()) for c in table.columns).lower()
            else:
                text = path.read_bytes().decode("latin-1").lower()
            hits += [f"{path.relative_to(root)}: {n}" for n in needles if n.lower() in text]
    con.close()
    return hits


def test_erasure_leaves_no_trace_of_the_person_in_any_file(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", project="shop")
    simulate(ws, business="shop", customers=300, seed=5, days=40)
    resolve(ws, "shop")
    build_profiles(ws, "shop")
    truth = pq.read_table(ws.root / "ground_truth" / "shop" / "persons.parquet").to_pylist()
    fb = pq.read_table(next((ws.root / "tables" / "feedback").rglob("*.parquet"))).to_pylist()
    with_fb = {r["user_id"] for r in fb if r["user_id"]}
    who = next(t for t in truth if t["user_id"] in with_fb and len(t["anonymous_ids"]) > 1)
    needles = [who["user_id"], who["email"], *who["anonymous_ids"]]
    # a pending collector segment and a rejects file that name the person
    seg = ws.root / "wal" / "writer-1" / "seg-00000001.log"
    seg.parent.mkdir(parents=True)
    row = [None] * 15
    row[5], row[6] = who["anonymous_ids"][0], who["user_id"]
    other = [None] * 15
    other[5] = "someone-else-entirely"
    seg.write_bytes(wal.encode_record("shop", [row, other]))  # type: ignore[list-item]
    (ws.root / "rejects" / "import-1.jsonl").write_text(
        json.dumps({"reason": "bad timestamp", "row": {"email": who["email"]}}) + "\n"
        + json.dumps({"reason": "bad timestamp", "row": {"email": "other@example.de"}}) + "\n")
    assert _names_in_workspace(ws.root, needles)
    events_before = ws.query(count, "shop")
    theirs = ws.query(lambda r: count(r.filter(
        duckdb.ColumnExpression("anonymous_id").isin(*[duckdb.ConstantExpression(a) for a in who["anonymous_ids"]])
        | (duckdb.ColumnExpression("user_id") == duckdb.ConstantExpression(who["user_id"])))), "shop")

    res = erase(ws, "shop", who["email"])

    assert res.leftovers == []
    assert _names_in_workspace(ws.root, needles) == []
    assert ws.query(count, "shop") == events_before - theirs  # nobody else's events went
    assert res.rows_removed["events"] == theirs and res.rows_removed["wal"] == 1
    assert [r[1] for r in wal.read_segment(seg)] == [[other]]
    assert "other@example.de" in (ws.root / "rejects" / "import-1.jsonl").read_text()
    audit = ws.catalog.execute("SELECT detail FROM batches WHERE kind = 'erase'").fetchall()
    assert len(audit) == 1 and not any(n.lower() in audit[0][0].lower() for n in needles)
    assert json.loads(audit[0][0])["subject_sha256"] == res.subject_hash
    # analyses still work on the rewritten files and no longer see the person
    persons = ws.query(lambda r: with_person(ws, r, "shop").aggregate("count(DISTINCT person_id)").fetchall(),
                       "shop")
    assert persons[0][0] > 0


def test_erasure_reaches_files_a_merge_retired_that_a_reader_still_holds(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    (ws.root / "cxlens.toml").write_text((ws.root / "cxlens.toml").read_text() + "\n[store]\nmerge_fanin = 2\n")
    ws = Workspace.open(ws.root)
    ws.append(journeys({"lena.sommer@example.de": [{"at": "2024-05-01 10:00", "event": "Home"}],
                        "other": [{"at": "2024-05-01 11:00", "event": "Home"}]}), source="test")
    with ws.reading():
        listed = ws.events()  # a reader listed the file that holds Lena ...
        ws.append(journeys({"third": [{"at": "2024-05-01 12:00", "event": "Home"}]}), source="test")
        held = retired.listed(ws.catalog)  # ... and a merge retired it
        assert held and _names_in_workspace(ws.root, ["lena.sommer"])

        res = erase(ws, None, "lena.sommer@example.de")

        assert res.leftovers == [] and _names_in_workspace(ws.root, ["lena.sommer"]) == []
        assert all((ws.root / f.path).exists() for f in held)  # rewritten in place, still readable
        assert sorted(r[0] for r in listed.select("user_id").fetchall()) == ["other"]
        assert sorted(r[0] for r in ws.events().select("user_id").fetchall()) == ["other", "third"]


def test_retention_deletes_whole_days_before_the_cutoff(ws: Workspace) -> None:
    ws.append(journeys({"p": [{"at": f"2024-05-0{d} 10:00", "event": "Home"} for d in range(1, 6)]}),
              source="test")
    res = retention(ws, None, days=3, today=dt.date(2024, 5, 6))
    assert (res.cutoff, res.events_deleted) == ("2024-05-03", 2)
    assert sorted(r[0].day for r in ws.events().select("timestamp").fetchall()) == [3, 4, 5]
    with pytest.raises(ConfigError, match="retention_days"):
        retention(ws, None)


def test_retention_days_from_cxlens_toml(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    path = ws.root / "cxlens.toml"
    path.write_text(path.read_text() + "\n[projects.default.privacy]\nretention_days = 1\n")
    ws = Workspace.open(ws.root)
    ws.append(journeys({"p": [{"at": "2024-05-01 10:00", "event": "Home"},
                              {"at": "2024-05-02 10:00", "event": "Home"}]}), source="test")
    assert retention(ws, today=dt.date(2024, 5, 3)).events_deleted == 1


def test_pseudonymise_is_keyed_deterministic_and_off_by_default() -> None:
    on = {"privacy": {"pseudonymise": True, "pseudonym_secret": "s" * 32}}
    other = {"privacy": {"pseudonymise": True, "pseudonym_secret": "t" * 32}}
    a = pseudonymise(on, "Kim@Example.de")
    assert a == pseudonymise(on, "kim@example.de") and a is not None and a.startswith("ps_")
    assert a != pseudonymise(other, "kim@example.de") and "kim" not in a
    assert pseudonymise({}, "kim@example.de") == "kim@example.de"
    with pytest.raises(ConfigError, match="pseudonym_secret"):
        pseudonymise({"privacy": {"pseudonymise": True}}, "u-1")
