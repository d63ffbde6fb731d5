"""The journey analyses over HTTP: secret-key auth, the same documents as the CLI, 400s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from support import journeys


@pytest.fixture
def client(ws: Workspace) -> Iterator[tuple[TestClient, dict[str, str]]]:
    keys = create_project(ws.catalog, "shop")
    ws.append(journeys({
        "ann": [{"at": "2024-05-01 10:00", "event": "Product Viewed"},
                {"at": "2024-05-01 10:05", "event": "Order Completed"}],
        "bob": [{"at": "2024-05-01 10:00", "event": "Product Viewed"}],
    }), source="test", project="shop")
    # without the lifespan: these routes need no collector
    yield TestClient(create_app(ws.root)), {"Authorization": f"Bearer {keys.secret_key}"}


def test_funnel_endpoint_answers_with_the_cli_document(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    res = http.post("/api/v1/funnels", json={"steps": ["Product Viewed", "Order Completed"]},
                    headers=auth)
    assert res.status_code == 200, res.text
    assert [s["persons"] for s in res.json()["steps"]] == [2, 1]
    assert res.json()["steps"][1]["dropped_persons"] == ["bob"]


def test_every_analysis_is_in_the_openapi_schema(client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    paths = http.get("/api/v1/openapi.json").json()["paths"]
    assert {"/api/v1/funnels", "/api/v1/paths", "/api/v1/graph", "/api/v1/retention"} <= set(paths)


def test_paths_graph_retention_endpoints_answer(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    assert http.post("/api/v1/paths", json={"max_steps": 3}, headers=auth).json()["persons"] == 2
    graph = http.post("/api/v1/graph", json={"designed": ["Product Viewed", "Order Completed"]},
                      headers=auth).json()
    assert graph["conformance"]["conforming"] == 1
    assert http.post("/api/v1/retention", json={}, headers=auth).json()["buyers"] == 1


def test_bad_spec_is_a_400_naming_the_field(client: tuple[TestClient, dict[str, str]]) -> None:
    http, auth = client
    res = http.post("/api/v1/funnels", json={"steps": ["Product Viewed"], "window": "0d"},
                    headers=auth)
    assert res.status_code == 400 and res.json()["field"] == "window"
    res = http.post("/api/v1/funnels", json={"steps": ["Nope"]}, headers=auth)
    assert res.status_code == 400 and "unknown event 'Nope'" in res.json()["message"]


def test_reads_need_the_secret_key(client: tuple[TestClient, dict[str, str]]) -> None:
    http, _ = client
    res = http.post("/api/v1/funnels", json={"steps": ["Product Viewed"]},
                    headers={"Authorization": "Bearer wrong"})
    assert res.status_code == 401
