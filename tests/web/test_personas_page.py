"""The personas page (cards) and the journey map's persona filter, in-process."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi.testclient import TestClient

from cxlens.personas.runs import load_run
from cxlens.store.workspace import Workspace


def test_personas_page_shows_a_card_per_persona_in_the_readers_language(anna: TestClient, shop_ws: Path) -> None:
    ws = Workspace.open(shop_ws)
    try:
        run = load_run(ws, "shop")
    finally:
        ws.close()
    de = anna.get("/personas?project=shop&days=90", headers={"Accept-Language": "de"}).text
    assert de.count('class="card persona"') == run.k
    for p in run.personas:
        assert escape(p.name_de, quote=False) in de and f'href="/journey?project=shop&amp;days=90&amp;persona={p.index}"' in de
    assert "Umsatzanteil" in de and "Am weitesten gekommen bis" in de
    anna.get("/lang?to=en&next=/personas")
    en = anna.get("/personas?project=shop&days=90").text
    assert all(escape(p.name_en, quote=False) in en for p in run.personas) and "Share of revenue" in en


def test_a_card_opens_the_journey_map_counting_only_that_personas_members(anna: TestClient) -> None:
    everyone = anna.get("/journey?project=shop&days=90&export=journey").text
    only = anna.get("/journey?project=shop&days=90&persona=0&export=journey").text
    assert everyone != only
    page = anna.get("/journey?project=shop&days=90&persona=0").text
    assert '<option value="0" selected>' in page  # the page-wide persona filter shows the choice


def test_bad_persona_parameter_is_an_error_page_naming_it(anna: TestClient) -> None:
    for value in ("abc", "99"):
        res = anna.get(f"/journey?project=shop&persona={value}")
        assert res.status_code == 400 and "persona" in res.text and "Traceback" not in res.text
