"""The dashboard in a real browser: Debian's chromium driven by Playwright against a real
``cxlens serve`` subprocess on demo data. Log in, open every page, build a funnel, click
a journey-map cell, switch the language, export a CSV, check accessibility (axe-core,
run from the locally installed axe-playwright-python wheel) and keyboard navigation.
Screenshots go to ``test-artifacts/``.

All tests share one server and one browser, so they run in one xdist worker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import BROWSER_ARGS as ARGS
from support import CHROMIUM, browser_api
from web.web_support import ARTIFACTS, PASSWORD, serving

pytestmark = [pytest.mark.xdist_group("browser")]

PAGES = {"overview": "/", "journey": "/journey", "funnels": "/funnels", "paths": "/paths",
         "graph": "/graph", "retention": "/retention", "profiles": "/profiles?q=u-",
         "data": "/data", "personas": "/personas", "persona-journey": "/journey?persona=0"}

sync_api = browser_api()


@pytest.fixture(scope="module")
def server(shop_ws: Path) -> Iterator[str]:
    with serving(shop_ws, ready="/login", tries=200, stop_timeout=30) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser: Any, server: str) -> Iterator[Any]:
    """One signed-in tab for the module's tests (signing in costs an argon2 check)."""
    context = browser.new_context(locale="de-DE", viewport={"width": 1366, "height": 900},
                                  accept_downloads=True, base_url=server)
    pg = context.new_page()
    pg.goto("/login")
    pg.get_by_label("Benutzername").fill("anna")
    pg.get_by_label("Passwort").fill(PASSWORD)
    pg.get_by_role("button", name="Anmelden").click()
    pg.wait_for_url("**/")
    yield pg
    context.close()


def _shot(pg: Any, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_page_in_german_and_wrong_password(browser: Any, server: str) -> None:
    context = browser.new_context(locale="de-DE", base_url=server)
    pg = context.new_page()
    pg.goto("/journey")
    assert "/login" in pg.url and pg.locator("html").get_attribute("lang") == "de"
    pg.get_by_label("Benutzername").fill("anna")
    pg.get_by_label("Passwort").fill("falsch-falsch")
    pg.get_by_role("button", name="Anmelden").click()
    assert pg.get_by_role("alert").inner_text() == "Benutzername oder Passwort ist falsch."
    _shot(pg, "login-error-de")
    context.close()


def test_every_page_renders_on_demo_data_and_passes_axe(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    problems: dict[str, list[str]] = {}
    for name, path in PAGES.items():
        page.goto(path + ("&" if "?" in path else "?") + "days=90")
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.is_visible()
        if page.locator(".js-plotly-plot").count():
            page.wait_for_selector(".js-plotly-plot .main-svg")
        _shot(page, f"page-{name}")
        # plotly's own SVG is exempt: it is drawn text inside a figure with an aria-label
        result = axe.run(page, context={"exclude": [[".js-plotly-plot"]]})
        serious = [f"{v['id']}: {v['help']} ({len(v['nodes'])}x)"
                   for v in result.response["violations"]
                   if v["impact"] in ("serious", "critical")]
        if serious:
            problems[name] = serious
    assert not problems, problems


def test_keyboard_reaches_skip_link_navigation_and_filters(page: Any) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.goto("/")
    seen = []
    for _ in range(25):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("(document.activeElement.id || document.activeElement.textContent || '').trim()"))
    assert "Journey-Map" in seen and "f-days" in seen and "Abmelden" in seen


def test_build_a_funnel(page: Any) -> None:
    page.goto("/funnels?days=90")
    page.get_by_label("Schritt 1").select_option("Product Viewed")
    page.get_by_label("Schritt 2").select_option("Checkout Started")
    page.get_by_label("Schritt 3").select_option("Order Completed")
    page.get_by_label("Schritt 4").select_option("")
    page.get_by_label("Aufschlüsseln nach").select_option("device")
    page.get_by_role("button", name="Trichter berechnen").click()
    page.wait_for_selector("#chart-funnel .main-svg")
    page.wait_for_selector("#chart-breakdown .main-svg")
    page.locator("[data-chart=funnel] summary").click()
    rows = page.locator("[data-chart=funnel] tbody tr")
    assert rows.count() == 3
    assert rows.nth(2).locator("td").nth(1).inner_text() == "Order Completed"
    _shot(page, "funnel-built")


def test_click_a_journey_map_cell(page: Any) -> None:
    page.goto("/journey?days=90")
    cell = page.locator("table.journey a[data-stage=purchase]").first
    label = cell.get_attribute("title")
    cell.click()
    page.wait_for_url("**/journey/cell?**")
    assert page.locator("h1").inner_text() == label
    assert page.locator("[data-chart=persons] tbody tr").count() > 0
    _shot(page, "journey-cell")


def test_personas_cards_open_the_persona_journey_map(page: Any) -> None:
    page.goto("/journey?days=90")
    everyone = int(page.locator("table.journey tr.total td").first.locator(".p").inner_text().replace(".", ""))
    page.goto("/personas?days=90")
    assert page.locator("h1").inner_text() == "Personas"
    cards = page.locator("li.persona")
    assert cards.count() >= 2
    card = cards.nth(1)
    name = card.locator("h2").inner_text()
    assert "Personen" in card.locator("p").first.inner_text()  # the German description
    assert card.locator(".stagebars li").count() == 5
    _shot(page, "personas")
    card.get_by_role("link", name=f"Journey-Map von „{name}“ öffnen").click()
    page.wait_for_url("**/journey?**persona=**")
    assert page.locator("#f-persona option:checked").inner_text() == name
    only = int(page.locator("table.journey tr.total td").first.locator(".p").inner_text().replace(".", ""))
    assert 0 < only < everyone
    _shot(page, "persona-journey")


def test_switch_language(page: Any) -> None:
    page.goto("/journey")
    assert page.locator("h1").inner_text() == "Journey-Map"
    page.get_by_role("link", name="EN", exact=True).click()
    page.wait_for_url("**/journey")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Journey map"
    assert page.get_by_role("link", name="Funnels").is_visible()
    _shot(page, "journey-en")
    page.get_by_role("link", name="DE", exact=True).click()
    assert page.locator("h1").inner_text() == "Journey-Map"


def test_export_csv(page: Any, tmp_path: Path) -> None:
    page.goto("/?days=90")
    with page.expect_download() as info:
        page.locator("[data-chart=daily] a[download]").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    lines = target.read_text().splitlines()
    assert lines[0] == "day,visitors,orders,revenue" and len(lines) > 10


def test_chromium_skip_message_names_the_fix() -> None:
    assert shutil.which("chromium") == CHROMIUM


def test_german_chart_axes_use_german_month_names(page: Any) -> None:
    page.goto("/?days=90")
    page.wait_for_selector("#chart-daily .xtick text")
    ticks = " ".join(page.eval_on_selector_all("#chart-daily .xtick text",
                                               "els => els.map(e => e.textContent)"))
    assert any(m in ticks for m in ("Mai", "Juni", "Apr.", "Juli")), ticks
