"""Scores by persona: feedback joined to the latest persona run through resolved persons,
on the CLI and over the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.personas import current_assignments
from cxlens.personas.runs import run_discovery
from cxlens.simulate import simulate
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from cxlens.voice.scores import scores
from support import run_cli


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("persona-scores") / "ws"
    ws = Workspace.init(root, project="shop")
    try:
        simulate(ws, business="shop", customers=300, seed=5, project="shop")
        run_discovery(ws, "shop", seed=1)
        secret = create_project(ws.catalog, "shop").secret_key
    finally:
        ws.close()
    yield root, secret


def test_scores_by_persona_add_up_to_the_scores_of_all(shop: tuple[Path, str]) -> None:
    root, _ = shop
    ws = Workspace.open(root)
    try:
        by_persona = scores(ws.con, ws.root, "shop", "persona", ws=ws, lang="de")
        overall = scores(ws.con, ws.root, "shop", "all")
        names = set(current_assignments(ws, "shop", lang="de").column("persona_name").to_pylist())
    finally:
        ws.close()
    assert len(by_persona) >= 2
    assert {g.group for g in by_persona} <= names | {"(none)"}
    assert sum(g.feedback for g in by_persona) == overall[0].feedback
    n_nps = sum(g.nps.n for g in by_persona if g.nps)
    assert overall[0].nps is not None and n_nps == overall[0].nps.n
    for g in by_persona:
        if g.nps:
            assert g.nps.low <= g.nps.value <= g.nps.high


def test_persona_scores_on_the_cli_and_the_api(shop: tuple[Path, str], capsys: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root, secret = shop
    # the dashboard's pre-warm thread still in DuckDB when the test process exits aborts it
    monkeypatch.setenv("CXLENS_DASHBOARD_PREWARM", "0")
    code, out, err = run_cli(capsys, "-w", str(root), "voice", "scores", "-p", "shop", "--by", "persona",
                             "--json")
    assert code == 0, err
    cli = json.loads(out)
    with TestClient(create_app(root)) as c:
        r = c.get("/api/v1/voice/scores", params={"by": "persona"},
                  headers={"Authorization": f"Bearer {secret}"})
        assert r.status_code == 200 and r.json() == cli
        bad = c.get("/api/v1/voice/scores", params={"by": "colour"},
                    headers={"Authorization": f"Bearer {secret}"})
        assert bad.status_code == 400 and bad.json()["field"] == "by"
        assert c.get("/api/v1/voice/scores").status_code == 401


def test_voice_page_breaks_down_and_filters_by_persona(shop: tuple[Path, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io

    from cxlens.web.auth import add_user
    from web.web_support import PASSWORD, login

    root, _ = shop
    monkeypatch.setenv("CXLENS_DASHBOARD_PREWARM", "0")
    ws = Workspace.open(root)
    try:
        add_user(ws.catalog, "vera", PASSWORD, "viewer", ["shop"])
    finally:
        ws.close()
    with TestClient(create_app(root)) as c:
        login(c, "vera")
        page = c.get("/voice?project=shop&days=90", headers={"accept-language": "en"})
        assert page.status_code == 200 and 'data-chart="by-persona"' in page.text
        rows = list(csv.DictReader(io.StringIO(c.get("/voice?project=shop&days=90&export=verbatims").text)))
        named = sorted({r["persona"] for r in rows if r["persona"]})
        assert named, "no verbatim carries a persona"
        only = list(csv.DictReader(io.StringIO(c.get(
            "/voice", params={"project": "shop", "days": 90, "vp": named[0], "export": "verbatims"}).text)))
        assert only and {r["persona"] for r in only} == {named[0]}
        by = list(csv.DictReader(io.StringIO(c.get("/voice?project=shop&days=90&export=by-persona").text)))
        assert named[0] in {r["persona"] for r in by}
        narrowed = list(csv.DictReader(io.StringIO(c.get(
            "/voice", params={"project": "shop", "days": 90, "persona": 0, "export": "by-persona"}).text)))
        assert len(narrowed) == 1  # the dashboard's persona filter narrows the whole page
