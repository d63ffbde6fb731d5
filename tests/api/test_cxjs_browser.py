"""cx.js in a real browser: a shop page on its own loopback origin loads the snippet from
a real ``cxlens serve``; landing page view with utm and click ids, a click on a marked
element, single-page-app navigation with ``history.pushState``, and the ``sendBeacon``
flush when the visitor leaves all arrive in the workspace as the docs say."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from collector_server import Live

from support import BROWSER_ARGS as ARGS
from support import CHROMIUM, browser_api

pytestmark = [pytest.mark.xdist_group("browser")]

sync_api = browser_api()

PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Wanderschuhe</title></head>
<body><main><h1>Wanderschuhe</h1>
<button id="kasse" type="button" data-cx-event="Checkout Clicked" data-cx-prop-position="header">Zur Kasse</button>
</main>
<script async src="__SERVER__/cx.js" data-key="__KEY__" data-consent="__CONSENT__"></script>
</body></html>
"""


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def shop_site(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = tmp_path_factory.mktemp("cxjs-site")
    for folder, consent in (("produkt", "granted"), ("ohne", "pending")):
        (site / folder).mkdir()
        (site / folder / "index.html").write_text(
            PAGE.replace("__SERVER__", live.url).replace("__KEY__", live.shop.write_key)
            .replace("__CONSENT__", consent), encoding="utf-8")
    httpd = ThreadingHTTPServer(("localhost", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{httpd.server_port}"
    httpd.shutdown()


def test_page_views_clicks_and_push_state_navigation_arrive_from_a_real_browser(
        live: Live, shop_site: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            pg = browser.new_context(locale="de-DE").new_page()
            pg.goto(shop_site + "/produkt/?utm_source=newsletter&utm_medium=email&gclid=abc")
            pg.wait_for_function("window.cx && window.cx.__loaded")
            pg.get_by_role("button", name="Zur Kasse").click()
            pg.evaluate("history.pushState({}, '', '/produkt/kasse')")
            pg.goto("about:blank")  # pagehide: the queue leaves by sendBeacon
        finally:
            browser.close()
    rows = live.wait_for("shop", lambda r: len(r) >= 3,
                         "json_extract_string(context, '$.library.name') = 'cx.js'")
    assert sorted((r["type"], r["event"]) for r in rows) == [
        ("page", "Wanderschuhe"), ("page", "Wanderschuhe"), ("track", "Checkout Clicked")]
    landing, click, spa = rows
    assert orjson.loads(click["properties"])["position"] == "header"
    assert orjson.loads(spa["context"])["page"]["path"] == "/produkt/kasse"
    assert landing["channel"] == "email"
    assert len({r["anonymous_id"] for r in rows}) == 1 and landing["anonymous_id"]
    assert len({r["session_id"] for r in rows}) == 1 and landing["session_id"]


def test_before_consent_no_cookie_and_no_ids_then_a_cookie_once_granted(live: Live, shop_site: str) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            ctx = browser.new_context(locale="de-DE")
            pg = ctx.new_page()
            pg.goto(shop_site + "/ohne/?utm_source=newsletter&utm_medium=email&email=anna@example.de")
            pg.wait_for_function("window.cx && window.cx.__loaded")
            pg.get_by_role("button", name="Zur Kasse").click()
            pg.evaluate("cx.flush()")
            cookies_before = ctx.cookies()
            pg.evaluate("cx.consent(true)")
            pg.evaluate("cx.track('Consented')")
            pg.evaluate("cx.flush()")
            cookies_after = {c["name"] for c in ctx.cookies()}
        finally:
            browser.close()
    assert cookies_before == []
    assert {"_cx_aid", "_cx_sid"} <= cookies_after
    rows = live.wait_for("shop", lambda r: len(r) >= 3,
                         "json_extract_string(context, '$.page.path') = '/ohne/'")
    before = [r for r in rows if r["event"] != "Consented"]
    assert len(before) == 2 and all(r["anonymous_id"] is None and r["session_id"] is None for r in before)
    assert all("anna" not in f"{r['context']} {r['properties']}" for r in before)
    assert before[0]["channel"] == "email"  # campaigns still count without consent
    consented = next(r for r in rows if r["event"] == "Consented")
    assert consented["anonymous_id"] and consented["session_id"]
