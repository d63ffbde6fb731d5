"""``/api/v1/profiles``: the project's secret key decides what can be read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.identity import resolve
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from support import journeys


def test_profile_explain_export_and_erase_need_the_projects_secret_key(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    keys = create_project(ws.catalog, "shop")
    other = create_project(ws.catalog, "other")
    ws.append(journeys({"p": [
        {"at": "2024-05-01 09:00", "type": "page", "event": "Home", "anonymous_id": "dev-1"},
        {"at": "2024-05-01 09:05", "type": "identify", "anonymous_id": "dev-1", "user_id": "user-1",
         "properties": {"email": "jo@example.de"}}]}), source="test", project="shop")
    resolve(ws, "shop")
    ws.close()
    client = TestClient(create_app(ws.root))  # no lifespan: the collector is not needed here
    auth = {"Authorization": f"Bearer {keys.secret_key}"}

    assert client.get("/api/v1/profiles/user-1").status_code == 401
    assert client.get("/api/v1/profiles/user-1",
                      headers={"Authorization": f"Bearer {other.secret_key}"}).status_code == 404
    doc = client.get("/api/v1/profiles/jo@example.de", headers=auth).json()
    assert doc["traits"]["email"] == "jo@example.de" and doc["computed"]["events"] == 2
    assert client.get("/api/v1/profiles/dev-1/timeline", headers=auth).json()["timeline"][0]["event"] == "Home"
    assert len(client.get("/api/v1/profiles/dev-1/explain", headers=auth).json()["links"]) == 2
    z = client.get("/api/v1/profiles/user-1/export", headers=auth)
    assert z.headers["content-type"] == "application/zip"
    assert "events.json" in zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    gone = client.delete("/api/v1/profiles/user-1", headers=auth).json()
    assert gone["rows_removed"]["events"] == 2 and gone["leftovers"] == []
    assert client.get("/api/v1/profiles/user-1", headers=auth).status_code == 404
