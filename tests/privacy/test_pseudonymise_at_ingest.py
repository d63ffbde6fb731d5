from __future__ import annotations

import json

import orjson
import pytest

from cxlens.errors import ConfigError
from cxlens.privacy.settings import pseudonymise
from cxlens.store.workspace import Workspace
from support import journeys

SECRET = "a-long-enough-project-secret"


def _turn_on(ws: Workspace, secret: str | None = SECRET) -> None:
    privacy: dict[str, object] = {"pseudonymise": True}
    if secret:
        privacy["pseudonym_secret"] = secret
    ws.ensure_project("shop")
    ws.catalog.execute(
        "UPDATE projects SET settings = ? WHERE name = 'shop'",
        (orjson.dumps({"privacy": privacy}).decode(),),
    )


def test_user_ids_and_emails_never_reach_the_files_when_the_project_pseudonymises(ws: Workspace) -> None:
    _turn_on(ws)
    ws.append(journeys({"mia@example.org": [
        {"at": "2024-05-01 10:00", "type": "identify", "anonymous_id": "dev-1",
         "user_id": "mia@example.org", "properties": {"email": "Mia@Example.org", "plan": "pro"}},
        {"at": "2024-05-01 10:05", "event": "Order Completed", "user_id": "mia@example.org"},
    ]}), source="test", project="shop")
    rows = ws.events("shop").select("user_id, anonymous_id, properties").fetchall()
    expected = pseudonymise({"privacy": {"pseudonymise": True, "pseudonym_secret": SECRET}},
                            "mia@example.org")
    assert {r[0] for r in rows} == {expected}
    assert {r[1] for r in rows} == {"dev-1", None}
    props = json.loads(next(r[2] for r in rows if r[2]))
    assert props == {"email": expected, "plan": "pro"}  # case-insensitive, same person
    for path in (ws.root / "events").rglob("*.parquet"):
        assert b"example.org" not in path.read_bytes()


def test_other_projects_keep_their_ids(ws: Workspace) -> None:
    _turn_on(ws)
    ws.append(journeys({"u1": [{"at": "2024-05-01 10:00", "event": "E"}]}), source="test", project="web")
    assert ws.events("web").select("user_id").fetchall() == [("u1",)]


def test_pseudonymising_without_a_secret_refuses_and_writes_nothing(ws: Workspace) -> None:
    _turn_on(ws, secret=None)
    with pytest.raises(ConfigError, match="pseudonym_secret"):
        ws.append(journeys({"u1": [{"at": "2024-05-01 10:00", "event": "E"}]}), source="test", project="shop")
    assert ws.event_files("shop") == []
