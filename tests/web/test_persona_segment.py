"""The persona filter narrows every page to one persona; the overview breaks its KPIs
down by persona."""

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
from cxlens.web import kpis, queries
from cxlens.web.auth import add_user
from cxlens.web.pages import compute_journey, compute_overview
from web.web_support import PASSWORD, login

PAGES = ("/", "/journey", "/funnels", "/paths", "/graph", "/retention")


@pytest.fixture(scope="module")
def persona_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("personas") / "ws"
    ws = Workspace.init(root, project="shop")
    try:
        simulate(ws, business="shop", customers=800, seed=3, project="shop")
        refresh(ws, "shop")
        run_discovery(ws, "shop", seed=0)
        add_user(ws.catalog, "anna", PASSWORD, "admin", ["shop"])
    finally:
        ws.close()
    return root


@pytest.fixture
def anna(persona_ws: Path) -> Iterator[TestClient]:
    with TestClient(create_app(persona_ws)) as c:
        login(c, "anna")
        yield c


def _overview(root: Path, persona: int | None = None) -> kpis.Overview:
    ws = Workspace.open(root)
    try:
        period = queries.last_days(90, queries.default_end(ws, "shop"))
        return compute_overview(ws, "shop", period, {}, persona)
    finally:
        ws.close()


def _visitors(ov: kpis.Overview) -> float | None:
    return next(k.current for k in ov.kpis if k.name == "visitors")


def test_overview_kpis_by_persona_add_up_to_everyone(persona_ws: Path) -> None:
    ov = _overview(persona_ws)
    assert len(ov.by_persona) >= 2
    assert sum(r.visitors for r in ov.by_persona) == _visitors(ov)
    assert sum(r.orders for r in ov.by_persona) == next(
        k.current for k in ov.kpis if k.name == "orders")


def test_persona_filter_counts_only_that_personas_members(persona_ws: Path) -> None:
    ws = Workspace.open(persona_ws)
    try:
        options = queries.persona_options(ws, "shop", "en")
    finally:
        ws.close()
    by_name = {r.segment: r for r in _overview(persona_ws).by_persona}
    for option in options:
        assert _visitors(_overview(persona_ws, option.id)) == by_name[option.name].visitors


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_narrowed_to_a_persona(anna: TestClient, path: str) -> None:
    r = anna.get(path + "?days=90&persona=0", headers={"accept-language": "en"})
    assert r.status_code == 200, r.text[:400]
    assert '<option value="0" selected>' in r.text
    assert "persona=0" in r.text  # links on the page keep the filter


def test_unknown_persona_in_the_url_gets_a_clear_error(anna: TestClient) -> None:
    r = anna.get("/?persona=999", headers={"accept-language": "en"})
    assert r.status_code == 400
    assert "is not a persona of the latest run" in r.text and "Traceback" not in r.text


def _stage_feedback(root: Path, persona: int | None) -> dict[str, int]:
    ws = Workspace.open(root)
    try:
        period = queries.last_days(90, queries.default_end(ws, "shop"))
        jm = compute_journey(ws, "shop", period, persona=persona)
    finally:
        ws.close()
    return {s: c.feedback for (s, v), c in jm.cells.items() if v is None and c.feedback}


def _feedback_outside_personas(root: Path) -> int:
    """Feedback rows of persons whom the persona run left unassigned (persona -1)."""
    from cxlens.personas.store import current_assignments

    ws = Workspace.open(root)
    con = queries.connect(ws, "shop")
    try:
        con.register("_assigned", current_assignments(ws, "shop"))
        return int(con.execute("""
            WITH by_user AS (SELECT user_id AS id, any_value(person) AS person FROM pev_all
                             WHERE user_id IS NOT NULL GROUP BY 1)
            SELECT count(*) FROM read_parquet(?, union_by_name = true) fb
            JOIN by_user u ON u.id = fb.user_id
            WHERE u.person NOT IN (SELECT person_id FROM _assigned WHERE persona_id >= 0)
        """, [queries.feedback_files(ws, "shop")]).fetchall()[0][0])
    finally:
        con.close()
        ws.close()


def test_journey_map_sentiment_counts_only_the_personas_own_feedback(persona_ws: Path) -> None:
    ws = Workspace.open(persona_ws)
    try:
        options = queries.persona_options(ws, "shop", "en")
    finally:
        ws.close()
    everyone = _stage_feedback(persona_ws, None)
    assert sum(everyone.values()) > 0
    per_persona = [_stage_feedback(persona_ws, o.id) for o in options]
    # each person is in one persona at most: per stage the personas' totals never add up
    # to more than everyone's (each counting everyone's feedback would make it k times),
    # and what is missing overall is the feedback of the persons no persona took
    for stage, n in everyone.items():
        assert sum(p.get(stage, 0) for p in per_persona) <= n, stage
    missing = sum(everyone.values()) - sum(sum(p.values()) for p in per_persona)
    assert missing == _feedback_outside_personas(persona_ws)
