"""The funnel builder: modes, an exclusion step, many steps, saved funnels."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from fastapi.testclient import TestClient

from cxlens.engines.local import DuckDBEngine
from cxlens.journeys.funnels import funnel, spec_from_dict
from cxlens.store.workspace import Workspace
from cxlens.web import queries
from web.web_support import csrf_of, login

STEPS = ["Product Viewed", "Checkout Started", "Order Completed"]


def _query(steps: list[str], **extra: str) -> str:
    parts = [f"step={quote_plus(s)}" for s in steps]
    parts += [f"{k}={quote_plus(v)}" for k, v in extra.items()]
    return "days=90&" + "&".join(parts)


def _exported(client: TestClient, query: str) -> list[int]:
    r = client.get(f"/funnels?{query}&export=funnel")
    assert r.status_code == 200, r.text[:300]
    return [int(row["persons"]) for row in csv.DictReader(io.StringIO(r.text))]


def _expected(shop_ws: Path, doc: dict[str, Any]) -> list[int]:
    ws = Workspace.open(shop_ws)
    try:
        period = queries.last_days(90, queries.default_end(ws, "shop"))
        res = funnel(DuckDBEngine(ws, "shop"), spec_from_dict({
            **doc, "since": period.since.isoformat(), "until": period.until.isoformat()}))
    finally:
        ws.close()
    return [s.persons for s in res.steps]


def test_exclusion_step_from_the_form_matches_the_analysis(anna: TestClient, shop_ws: Path) -> None:
    plain = _exported(anna, _query(STEPS, window="7d"))
    excluded = _exported(anna, _query(STEPS, window="7d", exclude="Ticket Created"))
    assert excluded == _expected(shop_ws, {"steps": STEPS, "window": "7d", "exclusions": [
        {"event": "Ticket Created", "from_step": 1, "to_step": 0}]})
    assert excluded[-1] <= plain[-1]


def test_strict_mode_from_the_form_matches_the_analysis(anna: TestClient, shop_ws: Path) -> None:
    steps = ["Checkout Started", "Checkout Step Viewed"]
    got = _exported(anna, _query(steps, window="1d", mode="strict"))
    assert got == _expected(shop_ws, {"steps": steps, "window": "1d", "mode": "strict"})


def test_a_funnel_of_six_steps_offers_a_seventh_slot(anna: TestClient) -> None:
    steps = ["Page Viewed", "Product Viewed", "Product Added", "Checkout Started",
             "Checkout Step Viewed", "Order Completed"]
    html = anna.get(f"/funnels?{_query(steps)}", headers={"accept-language": "en"}).text
    assert 'id="step-7"' in html and 'id="step-8"' not in html


def test_admin_saves_opens_and_deletes_a_funnel(anna: TestClient) -> None:
    page = anna.get(f"/funnels?{_query(STEPS, exclude='Ticket Created')}")
    r = anna.post("/funnels/save?project=shop&days=90", data={
        "csrf": csrf_of(page.text), "name": "Kauf ohne Ticket", "step": STEPS, "window": "7d",
        "mode": "ordered", "exclude": "Ticket Created", "breakdown": ""}, follow_redirects=False)
    assert r.status_code == 303 and "saved=Kauf+ohne+Ticket" in r.headers["location"]
    opened = anna.get(r.headers["location"], headers={"accept-language": "en"}).text
    assert "Funnel saved." in opened and 'aria-current="page">Kauf ohne Ticket</a>' in opened
    assert '<option value="Ticket Created" selected>' in opened  # the exclusion came back
    assert 'data-chart="funnel"' in opened
    r = anna.post("/funnels/delete?project=shop&days=90", data={
        "csrf": csrf_of(opened), "name": "Kauf ohne Ticket"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Kauf ohne Ticket" not in anna.get("/funnels?days=90").text
    missing = anna.get("/funnels?saved=Kauf+ohne+Ticket", headers={"accept-language": "en"})
    assert missing.status_code == 404 and "no saved funnel" in missing.text


def test_viewers_open_saved_funnels_but_cannot_save(client: TestClient) -> None:
    login(client, "viktor")
    page = client.get(f"/funnels?{_query(STEPS)}")
    assert 'action="/funnels/save' not in page.text
    r = client.post("/funnels/save?project=shop", data={
        "csrf": csrf_of(page.text), "name": "x", "step": STEPS})
    assert r.status_code == 403


def test_bad_mode_or_window_in_the_url_names_the_field(anna: TestClient) -> None:
    r = anna.get(f"/funnels?{_query(STEPS, mode='sideways')}", headers={"accept-language": "en"})
    assert r.status_code == 400 and "mode must be one of" in r.text
    r = anna.get(f"/funnels?{_query(STEPS, window='2y')}", headers={"accept-language": "en"})
    assert r.status_code == 400 and "window must be one of" in r.text
