"""``/api/v1/personas`` on the real app: secret-key auth, list / one / members, 4xx JSON."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.personas.runs import Run, run_discovery
from cxlens.simulate import simulate
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], Run]]:
    ws = Workspace.init(tmp_path_factory.mktemp("papi") / "ws", project="shop")
    keys = create_project(ws.catalog, "shop")
    other = create_project(ws.catalog, "other")
    simulate(ws, business="shop", customers=800, seed=2, days=30)
    run = run_discovery(ws, "shop")
    ws.close()
    yield (TestClient(create_app(ws.root)), {"Authorization": f"Bearer {keys.secret_key}"},
           {"Authorization": f"Bearer {other.secret_key}"}, run)


def test_personas_need_the_projects_secret_key(api: tuple[TestClient, dict[str, str], dict[str, str], Run]) -> None:
    http, _, other, _ = api
    res = http.get("/api/v1/personas")
    assert res.status_code == 401 and res.json()["error"] == "unauthorized"
    # another project's key reads that project: it has no run yet, and the body says what to do
    res = http.get("/api/v1/personas", headers=other)
    assert res.status_code == 404 and "cxlens personas discover -p other" in res.json()["message"]


def test_list_one_and_members_answer_with_the_stored_run(
        api: tuple[TestClient, dict[str, str], dict[str, str], Run]) -> None:
    http, auth, _, run = api
    doc = http.get("/api/v1/personas", headers=auth, params={"lang": "de"}).json()
    assert doc["run_id"] == run.run_id and doc["k"] == run.k and len(doc["personas"]) == run.k
    first = doc["personas"][0]
    assert first["name"] == run.personas[0].name_de and first["description"] == run.personas[0].description_de
    assert set(first["stages"]) == {"awareness", "consideration", "decision", "fulfillment", "renewal"}
    one = http.get("/api/v1/personas/1", headers=auth).json()
    assert one["id"] == 1 and one["name"] == run.personas[1].name_en and one["size"] == run.personas[1].size
    assert "journey" in one and "pain_points" in one
    page = http.get("/api/v1/personas/1/members", headers=auth, params={"limit": 5, "offset": 2}).json()
    assert page["total"] == run.personas[1].size and len(page["members"]) == 5
    everyone = http.get("/api/v1/personas/1/members", headers=auth, params={"limit": 1000}).json()["members"]
    assert page["members"] == everyone[2:7] and everyone == sorted(everyone)


def test_bad_requests_are_4xx_json_naming_the_field(
        api: tuple[TestClient, dict[str, str], dict[str, str], Run]) -> None:
    http, auth, _, run = api
    for url, params, status, field in [
        (f"/api/v1/personas/{run.k + 5}", {}, 404, "persona_id"),
        ("/api/v1/personas", {"level": "company"}, 400, "level"),
        ("/api/v1/personas", {"lang": "fr"}, 400, "lang"),
        ("/api/v1/personas/0/members", {"limit": 0}, 400, "limit"),
        ("/api/v1/personas/0/members", {"offset": -1}, 400, "offset"),
        ("/api/v1/personas", {"level": "account"}, 404, "run_id"),
    ]:
        res = http.get(url, headers=auth, params=params)
        assert res.status_code == status and res.json()["field"] == field, (url, res.text)
    res = http.get("/api/v1/personas/abc", headers=auth)
    assert res.status_code == 422 and "persona_id" in res.text


def test_personas_routes_are_in_the_openapi_schema(
        api: tuple[TestClient, dict[str, str], dict[str, str], Run]) -> None:
    paths = api[0].get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/personas", "/api/v1/personas/{persona_id}", "/api/v1/personas/{persona_id}/members"} <= set(paths)
