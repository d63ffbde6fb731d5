"""Retention: old events and feedback go, and so does everything about a person with nothing left."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from cxlens.identity import explain, id_map, resolve
from cxlens.identity.profiles import build_profiles, profile, write_computed_traits
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.privacy.retention import retention
from cxlens.store.workspace import Workspace
from support import journeys


def ident(at: str, anon: str, user: str, **traits: Any) -> dict[str, Any]:
    return {"at": at, "type": "identify", "event": "Identify", "anonymous_id": anon, "user_id": user,
            "properties": traits or None}


def visit(at: str, anon: str, user: str | None = None) -> dict[str, Any]:
    return {"at": at, "type": "page", "event": "Home", "anonymous_id": anon, "user_id": user, "channel": "direct"}


def feedback(ws: Workspace, rows: list[tuple[str, str, str]]) -> Path:
    """(feedback id, user id, time) -> a feedback file of the default project."""
    folder = ws.root / "tables" / "feedback" / "project=default"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    table = pa.table({
        "project": ["default"] * n, "feedback_id": [r[0] for r in rows],
        "timestamp": pa.array([dt.datetime.fromisoformat(r[2]).replace(tzinfo=dt.UTC) for r in rows],
                              pa.timestamp("us", tz="UTC")),
        "anonymous_id": pa.nulls(n, pa.string()), "user_id": [r[1] for r in rows], "kind": ["nps"] * n,
        "score": [9.0] * n, "scale_max": [10.0] * n, "text": ["gut"] * n, "language": ["de"] * n,
        "touchpoint": ["checkout"] * n, "channel": ["web"] * n, "source": ["test"] * n,
        "properties": pa.nulls(n, pa.string()),
    }, schema=FEEDBACK_SCHEMA)
    path = folder / "part-test.parquet"
    pq.write_table(table, path)
    return path


def test_a_person_whose_data_all_expired_leaves_no_identity_profile_or_feedback(ws: Workspace) -> None:
    ws.append(journeys({
        # olga: everything in April, before the cut-off
        "olga": [visit("2024-04-01 09:00", "olga-phone"),
                 ident("2024-04-01 09:05", "olga-phone", "u-olga", email="olga@example.de", plan="basic")],
        # bert: logged in in April, back in May on a new device
        "bert": [ident("2024-04-02 10:00", "bert-laptop", "u-bert", plan="pro"),
                 ident("2024-05-10 10:00", "bert-phone", "u-bert"), visit("2024-05-10 10:01", "bert-phone", "u-bert")],
        "nina": [ident("2024-05-11 10:00", "nina-dev", "u-nina")],
    }), source="test")
    fb = feedback(ws, [("f1", "u-olga", "2024-04-03 12:00"), ("f2", "u-bert", "2024-04-03 12:00"),
                       ("f3", "u-nina", "2024-05-12 12:00")])
    resolve(ws)
    build_profiles(ws)
    persons = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    write_computed_traits(ws, None, pa.table({"person_id": [persons["u-olga"], persons["u-bert"]],
                                              "journey_stage": ["Kauf", "Wiederkauf"]}), "journeys")

    res = retention(ws, None, days=30, today=dt.date(2024, 5, 20))

    assert (res.cutoff, res.feedback_deleted, res.persons_removed) == ("2024-04-20", 2, 1)
    assert res.ids_removed == 3 and res.links_removed == 2  # olga's device, user id, e-mail
    after = {i: p for _, i, p in id_map(ws, "default").fetchall()}
    assert not {"olga-phone", "u-olga", "olga@example.de"} & after.keys()
    assert after["bert-laptop"] == after["bert-phone"] == persons["u-bert"]  # bert's link from April stays
    assert {ln.id_a for ln in explain(ws, None, "u-bert").links} == {"bert-laptop", "bert-phone"}
    names = ws.con.sql("SELECT DISTINCT person_id FROM read_parquet(?)", params=[
        [str(ws.root / f.path) for f in ws.catalog.live_files("profiles", "default")]]).fetchall()
    assert persons["u-olga"] not in {n[0] for n in names}
    assert [r["feedback_id"] for r in pq.read_table(fb).to_pylist()] == ["f3"]
    bert = profile(ws, None, "u-bert")
    assert bert.computed["first_seen"].startswith("2024-05-10")  # rebuilt from what is left
    assert "plan" not in bert.traits  # observed only on a deleted event
    assert bert.computed["journey_stage"] == "Wiederkauf"


def test_retention_without_resolved_identities_deletes_events_only(ws: Workspace) -> None:
    ws.append(journeys({"p": [visit("2024-04-01 09:00", "d1"), visit("2024-05-10 09:00", "d1")]}), source="test")
    res = retention(ws, None, days=30, today=dt.date(2024, 5, 20))
    assert (res.events_deleted, res.persons_removed, res.profile_rows) == (1, 0, 0)
