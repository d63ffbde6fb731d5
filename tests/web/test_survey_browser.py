"""A survey end to end in a real browser: a shop page on its own loopback origin loads
``cx.js`` and ``cx-survey.js`` from a real ``cxlens serve``, the person consents, tracks
"Order Completed", the survey's trigger fires, the widget is answered with the keyboard
and the mouse, the answer goes through the collector into feedback, and the dashboard's
voice page shows it tied to its touchpoint. axe-core checks the widget and the pages.

Own workspace and server (answers made "now" would move the shared demo's period)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from cxlens.surveys.definitions import survey_from_dict
from cxlens.surveys.store import save_survey
from cxlens.web.auth import add_user
from support import BROWSER_ARGS as ARGS
from support import CHROMIUM, browser_api
from web.web_support import ARTIFACTS, PASSWORD, serving

pytestmark = [pytest.mark.xdist_group("browser")]

TOUCHPOINT = "kasse-online"
VERBATIM = "Die Bezahlung war umständlich und die Seite sehr langsam"

sync_api = browser_api()

SHOP_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Danke für Ihre Bestellung</title></head>
<body><main><h1>Danke für Ihre Bestellung!</h1><p>Bestellnummer 4711</p>
<button id="consent" type="button">Einverstanden</button></main>
<script>
  window.cx = window.cx || [];
  document.getElementById("consent").addEventListener("click", function () {
    cx.consent(true);
    cx.track("Order Completed", {order_id: "4711", revenue: 59.9, currency: "EUR"});
  });
</script>
<script async src="__SERVER__/cx.js" data-key="__KEY__"></script>
<script async src="__SERVER__/cx-survey.js" data-key="__KEY__"></script>
</body></html>
"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


EN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hiking boots</title></head>
<body><main><h1>Hiking boots</h1><a href="#buy" id="buy">Buy now</a></main>
<script async src="__SERVER__/cx.js" data-key="__KEY__" data-consent="granted"></script>
<script async src="__SERVER__/cx-survey.js" data-key="__KEY__"></script>
</body></html>
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    root = tmp_path_factory.mktemp("survey-browser") / "ws"
    ws = Workspace.init(root, project="shop")
    try:
        key = create_project(ws.catalog, "shop").write_key
        add_user(ws.catalog, "anna", PASSWORD, "admin", ["shop"])
        save_survey(ws.catalog, "shop", survey_from_dict({
            "id": "nps-kasse", "name": "NPS Kasse", "touchpoint": TOUCHPOINT, "stage": "purchase",
            "targeting": {"trigger": "event", "event": "Order Completed", "url": "/danke*", "seconds": 0.5},
            "questions": [
                {"id": "nps", "kind": "nps", "required": True,
                 "text": {"de": "Wie wahrscheinlich empfehlen Sie uns weiter?",
                          "en": "How likely are you to recommend us?"},
                 "low_label": {"de": "unwahrscheinlich", "en": "not likely"},
                 "high_label": {"de": "sehr wahrscheinlich", "en": "very likely"}},
                {"id": "why", "kind": "text", "text": {"de": "Warum?", "en": "Why?"}},
                {"id": "topic", "kind": "multi", "text": {"de": "Worum ging es?", "en": "What about?"},
                 "options": [{"id": "payment", "text": {"de": "Bezahlung", "en": "Payment"}},
                             {"id": "speed", "text": {"de": "Geschwindigkeit", "en": "Speed"}}]}]}))
        save_survey(ws.catalog, "shop", survey_from_dict({
            "id": "csat-produkt", "name": "CSAT Produktseite", "touchpoint": "product-page",
            "targeting": {"trigger": "seconds", "seconds": 1, "url": "/en/*", "every_days": 30},
            "questions": [{"id": "csat", "kind": "csat", "text": {"de": "Wie zufrieden sind Sie?",
                                                                  "en": "How satisfied are you?"}}]}))
    finally:
        ws.close()
    with serving(root, env={"CXLENS_DASHBOARD_PREWARM": "0"}) as url:
        yield url, root, key


@pytest.fixture(scope="module")
def shop_site(server: tuple[str, Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shop's own pages on another loopback origin (the snippet loads cross-origin)."""
    url, _, key = server
    site = tmp_path_factory.mktemp("shop-site")
    (site / "danke").mkdir()
    (site / "en" / "produkt").mkdir(parents=True)
    (site / "en" / "produkt" / "index.html").write_text(EN_PAGE.replace("__SERVER__", url).replace("__KEY__", key),
                                                        encoding="utf-8")
    (site / "danke" / "index.html").write_text(SHOP_PAGE.replace("__SERVER__", url).replace("__KEY__", key),
                                               encoding="utf-8")
    httpd = ThreadingHTTPServer(("localhost", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _serious(page: Any, **context: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page, context=context or None)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])}x)" for v in result.response["violations"]
            if v["impact"] in ("serious", "critical")]


def _feedback_texts(root: Path) -> list[tuple[str, str, float]]:
    folder = root / "tables" / "feedback" / "project=shop"
    files = sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return []
    ws = Workspace.open(root)
    try:
        return [(str(a), str(b), float(c)) for a, b, c in ws.con.execute(
            "SELECT touchpoint, text, score FROM read_parquet(?)", [files]).fetchall()]
    finally:
        ws.close()


def test_no_survey_without_consent_then_answered_and_shown_on_the_voice_page(
        browser: Any, server: tuple[str, Path, str], shop_site: str) -> None:
    url, root, _ = server
    shop = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    pg = shop.new_page()
    pg.goto(shop_site + "/danke/")
    pg.wait_for_function("window.cxSurvey !== undefined && window.cx && window.cx.__loaded")
    pg.wait_for_timeout(1500)  # the trigger would have fired by now
    assert pg.locator("[role=dialog]").count() == 0, "a survey was shown without consent"

    pg.get_by_role("button", name="Einverstanden").click()  # consent, then Order Completed
    dialog = pg.get_by_role("dialog", name="Umfrage")
    dialog.wait_for(timeout=15000)
    assert dialog.get_attribute("data-survey") == "nps-kasse"
    assert pg.get_by_text("Wie wahrscheinlich empfehlen Sie uns weiter?").is_visible()
    # focus moved into the widget; arrow keys choose on the 0-10 scale
    assert pg.evaluate("document.activeElement.name") == "q_nps"
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowRight")
    assert pg.evaluate("document.querySelector('input[name=q_nps]:checked').value") == "3"
    pg.get_by_label("Warum?").fill(VERBATIM)
    pg.get_by_label("Bezahlung").check()
    assert _serious(pg, include=[[".cxs"]]) == []
    pg.screenshot(path=str(ARTIFACTS / "survey-widget-de.png"))
    dialog.get_by_role("button", name="Senden").click()
    pg.get_by_role("status").wait_for()
    assert "Vielen Dank" in pg.get_by_role("status").inner_text()
    state = pg.evaluate("JSON.parse(localStorage.getItem('_cx_survey_nps-kasse'))")
    assert state["n"] == 1

    deadline = time.monotonic() + 30
    rows = _feedback_texts(root)
    while not any(t == VERBATIM for _, t, _ in rows) and time.monotonic() < deadline:
        time.sleep(0.2)
        rows = _feedback_texts(root)
    assert (TOUCHPOINT, VERBATIM, 3.0) in rows

    # the same person on the next page: the cap keeps the survey away
    pg.reload()
    pg.wait_for_function("window.cxSurvey !== undefined")
    pg.evaluate("cx.consent(true); cx.track('Order Completed', {})")
    pg.wait_for_timeout(1500)
    assert pg.locator("[role=dialog]").count() == 0
    shop.close()

    dash = browser.new_context(locale="de-DE", viewport={"width": 1366, "height": 900}, base_url=url)
    d = dash.new_page()
    d.goto("/login")
    d.get_by_label("Benutzername").fill("anna")
    d.get_by_label("Passwort").fill(PASSWORD)
    d.get_by_role("button", name="Anmelden").click()
    d.wait_for_url("**/")
    d.get_by_role("link", name="Kundenstimme").click()
    d.wait_for_url("**/voice**")
    assert d.locator("[data-score=nps] .value").inner_text() == "-100"  # one detractor
    d.get_by_label("Touchpoint", exact=True).select_option(TOUCHPOINT)
    d.get_by_role("button", name="Aussagen filtern").click()
    d.wait_for_url(f"**vt={TOUCHPOINT}**")
    row = d.locator("[data-chart=verbatims] tbody tr", has_text=VERBATIM)
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert TOUCHPOINT in cells and "Kauf" in cells and "negativ" in cells and "3" in cells
    d.screenshot(path=str(ARTIFACTS / "voice-page-de.png"), full_page=True)
    assert _serious(d, exclude=[[".js-plotly-plot"]]) == []
    d.goto("/surveys?project=shop")
    assert d.get_by_role("link", name="nps-kasse").is_visible()
    assert _serious(d) == []
    dash.close()


def test_time_on_page_survey_in_english_is_dismissed_with_escape_and_capped(
        browser: Any, server: tuple[str, Path, str], shop_site: str) -> None:
    _, root, _ = server
    ctx = browser.new_context(locale="en-GB")
    pg = ctx.new_page()
    pg.goto(shop_site + "/en/produkt/")
    pg.locator("#buy").focus()
    dialog = pg.get_by_role("dialog", name="Survey")
    dialog.wait_for(timeout=15000)  # after one second on the page
    assert dialog.get_attribute("data-survey") == "csat-produkt"
    assert pg.get_by_text("How satisfied are you?").is_visible()
    assert [pg.locator("input[name=q_csat]").nth(i).get_attribute("value") for i in range(5)] == \
        ["1", "2", "3", "4", "5"]
    assert _serious(pg, include=[[".cxs"]]) == []
    pg.keyboard.press("Escape")
    assert pg.locator("[role=dialog]").count() == 0
    assert pg.evaluate("document.activeElement.id") == "buy"  # focus went back
    pg.evaluate("cx.flush()")
    pg.reload()
    pg.wait_for_function("window.cxSurvey !== undefined && window.cxSurvey.surveys().length > 0")
    pg.wait_for_timeout(2000)
    assert pg.locator("[role=dialog]").count() == 0  # shown once per 30 days, answered or not
    ctx.close()
    deadline = time.monotonic() + 30
    names: list[str] = []
    while time.monotonic() < deadline:
        ws = Workspace.open(root)
        try:
            names = [r[0] for r in ws.events("shop").filter("event LIKE 'Survey %'")
                     .filter("properties LIKE '%csat-produkt%'").project("event").fetchall()]
        finally:
            ws.close()
        if {"Survey Shown", "Survey Dismissed"} <= set(names):
            break
        time.sleep(0.3)
    assert {"Survey Shown", "Survey Dismissed"} <= set(names)
