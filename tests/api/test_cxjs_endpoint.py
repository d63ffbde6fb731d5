"""The path cx.js uses: GET /cx.js, then text/plain Segment batches with the key in the body
(sendBeacon cannot set headers). A real-browser test follows with the dashboard work."""

from __future__ import annotations

import httpx
import orjson
from collector_server import Live


def test_cx_js_is_served_as_javascript(live: Live) -> None:
    r = httpx.get(live.url + "/cx.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/javascript")
    assert "sendBeacon" in r.text and "/v1/batch" in r.text


def test_beacon_style_batch_with_consent_and_without(live: Live) -> None:
    page = {"url": "https://shop.de/?utm_source=newsletter&utm_medium=email&gclid=abc",
            "path": "/", "title": "Start", "referrer": "", "search": "?utm_source=newsletter&utm_medium=email&gclid=abc"}
    with_consent = {"type": "page", "name": "Start", "messageId": "cxjs-1", "anonymousId": "aid-1",
                    "timestamp": "2024-05-01T10:00:00.000Z",
                    "context": {"library": {"name": "cx.js"}, "page": page, "sessionId": "s1",
                                "campaign": {"source": "newsletter", "medium": "email"},
                                "click_ids": {"gclid": "abc"}}}
    without = {"type": "track", "event": "Clicked CTA", "messageId": "cxjs-2", "anonymousId": "anonymous",
               "timestamp": "2024-05-01T10:00:01.000Z",
               "context": {"library": {"name": "cx.js"}, "page": page, "consent": {"analytics": False}}}
    body = orjson.dumps({"batch": [with_consent, without], "sentAt": "2024-05-01T10:00:02.000Z",
                         "writeKey": live.shop.write_key})
    r = httpx.post(live.url + "/v1/batch", content=body,
                   headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.de"})
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert r.headers["access-control-allow-origin"] == "*"
    rows = live.wait_for("shop", lambda r: len(r) == 2, "event_id IN ('cxjs-1', 'cxjs-2')")
    page_row, click = sorted(rows, key=lambda r: r["event_id"])
    assert (page_row["anonymous_id"], page_row["session_id"], page_row["channel"]) == ("aid-1", "s1", "email")
    assert click["anonymous_id"] is None and click["event"] == "Clicked CTA"
    assert "click_ids" not in orjson.loads(click["context"])
    preflight = httpx.options(live.url + "/v1/batch", headers={"Origin": "https://shop.de"})
    assert preflight.status_code == 204
