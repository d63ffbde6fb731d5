"""A small simulated shop shared by the dashboard tests, and logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.identity.freshness import refresh
from cxlens.personas.runs import run_discovery
from cxlens.simulate import simulate
from cxlens.store.workspace import Workspace
from cxlens.web.auth import add_user
from web.web_support import PASSWORD, login


@pytest.fixture(scope="session")
def shop_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 simulated shop customers in project ``shop`` (with a persona run) plus an empty project ``other``;
    users: anna (admin, shop), viktor (viewer, shop), olga (viewer, other)."""
    root = tmp_path_factory.mktemp("web") / "ws"
    ws = Workspace.init(root, project="shop")
    try:
        simulate(ws, business="shop", customers=1500, seed=7, project="shop")
        refresh(ws, "shop")  # as cxlens demo and the server's refresh loop do
        run_discovery(ws, "shop")  # personas for the personas page and the journey map filter
        ws.ensure_project("other")
        add_user(ws.catalog, "anna", PASSWORD, "admin", ["shop"])
        add_user(ws.catalog, "viktor", PASSWORD, "viewer", ["shop"])
        add_user(ws.catalog, "olga", PASSWORD, "viewer", ["other"])
    finally:
        ws.close()
    return root


@pytest.fixture
def client(shop_ws: Path) -> Iterator[TestClient]:
    with TestClient(create_app(shop_ws)) as c:
        yield c


@pytest.fixture
def anna(client: TestClient) -> TestClient:
    login(client, "anna")
    return client
