"""The dashboard counts identity's resolved persons, honours consent, and the server keeps
the persons current by itself."""

from __future__ import annotations

import time
from typing import Any

import tomli_w
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.identity import unlink
from cxlens.identity.freshness import freshness, refresh
from cxlens.store.workspace import Workspace
from cxlens.web import queries
from support import journeys

PEOPLE: dict[str, list[dict[str, Any]]] = {
    # browsed on a tablet, logged in there, then bought: one person
    "kim": [{"at": "2024-05-01 09:00", "type": "page", "event": "Home", "anonymous_id": "tablet"},
            {"at": "2024-05-01 09:02", "type": "identify", "anonymous_id": "tablet", "user_id": "kim"},
            {"at": "2024-05-01 09:10", "event": "Order Completed", "user_id": "kim",
             "revenue": 40.0}],
    "lea": [{"at": "2024-05-01 10:00", "type": "page", "event": "Home"},
            {"at": "2024-05-01 10:05", "event": "Order Completed", "revenue": 60.0}],
    # bought, then withdrew analytics consent: left out of every figure
    "max": [{"at": "2024-05-01 11:00", "type": "page", "event": "Home"},
            {"at": "2024-05-01 11:05", "event": "Order Completed", "revenue": 99.0},
            {"at": "2024-05-02 08:00", "event": "Consent Updated",
             "properties": {"analytics": "denied"}}],
}


def persons(ws: Workspace, view: str) -> int:
    con = queries.connect(ws, ws.default_project)
    try:
        return int(con.execute(f"SELECT count(DISTINCT person) FROM {view}").fetchall()[0][0])
    finally:
        con.close()


def test_dashboard_counts_resolved_persons_and_leaves_out_denied_consent(ws: Workspace) -> None:
    ws.append(journeys(PEOPLE), source="test")
    refresh(ws)
    assert persons(ws, "pev") == 2  # kim (tablet + account) and lea; max denied
    assert persons(ws, "pev_all") == 3  # the profile lookup still finds max


def test_unlinking_splits_the_person_on_the_dashboard_too(ws: Workspace) -> None:
    ws.append(journeys(PEOPLE), source="test")
    refresh(ws)
    unlink(ws, None, "tablet", "kim")
    assert persons(ws, "pev") == 3  # the tablet visitor, kim and lea


def test_refresh_resolves_only_when_events_arrived_since_the_last_resolve(ws: Workspace) -> None:
    assert freshness(ws).fresh  # no events: nothing to resolve
    ws.append(journeys({"lea": PEOPLE["lea"]}), source="test")
    assert not freshness(ws).fresh
    assert refresh(ws) is not None
    assert freshness(ws).fresh and refresh(ws) is None
    ws.append(journeys({"kim": PEOPLE["kim"]}), source="test")
    assert refresh(ws) is not None and persons(ws, "pev") == 2


def test_the_server_resolves_new_identities_by_itself(ws: Workspace) -> None:
    config = dict(ws.config)
    config["identity"] = {**config.get("identity", {}), "refresh_seconds": 0.2}
    (ws.root / "cxlens.toml").write_text(tomli_w.dumps(config))
    ws.append(journeys({"kim": PEOPLE["kim"]}), source="test")
    with TestClient(create_app(ws.root)) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 20
        while not freshness(ws).fresh and time.monotonic() < deadline:
            time.sleep(0.1)
        assert freshness(ws).fresh
    assert persons(ws, "pev") == 1  # the tablet's page view belongs to kim
