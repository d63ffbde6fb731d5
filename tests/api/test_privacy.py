"""Privacy at the door: anonymised IPs, consent and Do-Not-Track as configured per project."""

from __future__ import annotations

import httpx
import orjson
from collector_server import Live


def _send(live: Live, key: str, user: str, headers: dict[str, str] | None = None,
          context: dict[str, object] | None = None) -> httpx.Response:
    batch = [
        {"type": "track", "userId": user, "event": "Seen", "messageId": f"{user}-t",
         "context": {"userAgent": "Mozilla/5.0", "ip": "203.0.113.77",
                     "page": {"url": "https://shop.de/a?mail=a@b.de&utm_source=x"}, **(context or {})}},
        {"type": "identify", "userId": user, "messageId": f"{user}-i", "traits": {"email": "a@b.de"},
         "context": context or {}},
    ]
    return httpx.post(f"{live.url}/v1/batch", json={"batch": batch}, auth=(key, ""),
                      headers=headers or {})


def test_ip_is_anonymised_by_default_and_kept_where_the_project_says(live: Live) -> None:
    assert _send(live, live.shop.write_key, "priv-a").status_code == 200
    assert _send(live, live.private.write_key, "priv-b").status_code == 200
    shop = live.wait_for("shop", lambda r: len(r) == 2, "user_id = ?", ["priv-a"])
    private = live.wait_for("private", lambda r: len(r) == 2, "user_id = ?", ["priv-b"])
    # the message's context.ip wins; without one the request's address is used
    ips = {r["type"]: orjson.loads(r["context"])["ip"] for r in shop}
    assert ips == {"track": "203.0.113.0", "identify": "127.0.0.0"}
    ips = {r["type"]: orjson.loads(r["context"])["ip"] for r in private}
    assert ips == {"track": "203.0.113.77", "identify": "127.0.0.1"}


def test_denied_consent_stores_nothing_personal(live: Live) -> None:
    r = _send(live, live.shop.write_key, "priv-c", context={"consent": {"analytics": False}})
    assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["dropped"] == 1
    rows = live.wait_for("shop", lambda r: len(r) == 1, "event_id LIKE 'priv-c-%'")
    assert len(rows) == 1 and rows[0]["type"] == "track"
    row = rows[0]
    assert row["user_id"] is None and row["anonymous_id"] is None
    ctx = orjson.loads(row["context"])
    assert "ip" not in ctx and "user_agent" not in ctx
    assert ctx["page"]["url"] == "https://shop.de/a"
    assert ctx["campaign"] == {"source": "x"}  # aggregate attribution still works


def test_dnt_is_honoured_only_by_projects_that_ask_for_it(live: Live) -> None:
    _send(live, live.private.write_key, "priv-d", headers={"DNT": "1"})
    _send(live, live.shop.write_key, "priv-e", headers={"DNT": "1"})
    private = live.wait_for("private", lambda r: len(r) == 1, "event_id LIKE 'priv-d-%'")
    shop = live.wait_for("shop", lambda r: len(r) == 2, "user_id = ?", ["priv-e"])
    assert private[0]["user_id"] is None and len(private) == 1
    assert len(shop) == 2


def test_consent_header_denies_for_every_project(live: Live) -> None:
    _send(live, live.shop.write_key, "priv-f", headers={"X-Cx-Consent": "denied"})
    rows = live.wait_for("shop", lambda r: len(r) == 1, "event_id LIKE 'priv-f-%'")
    assert len(rows) == 1 and rows[0]["user_id"] is None


def test_denied_consent_also_scrubs_urls_and_device_ids_in_properties(live: Live) -> None:
    # cx.js and analytics.js repeat the page's url, search and referrer in a page view's
    # properties; posthog-js puts its device and anonymous ids there
    page = {"url": "https://shop.de/danke?email=anna@example.de&order=4711", "path": "/danke",
            "search": "?email=anna@example.de&order=4711", "title": "Danke",
            "referrer": "https://webmail.example.de/inbox?user=anna"}
    seg = {"type": "page", "name": "Danke", "anonymousId": "anonymous", "messageId": "priv-g-page",
           "properties": dict(page), "context": {"consent": {"analytics": False}, "page": dict(page)}}
    r = httpx.post(f"{live.url}/v1/batch", json={"batch": [seg], "writeKey": live.shop.write_key},
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    ph = {"event": "Checkout Started", "distinct_id": "ph-device-1", "uuid": "priv-g-ph",
          "properties": {"$device_id": "ph-device-1", "$anon_distinct_id": "ph-anon-1",
                         "$user_id": "anna@example.de", "$window_id": "w-1", "cart": 2,
                         "$current_url": page["url"], "$initial_referrer": page["referrer"],
                         "$initial_current_url": page["url"]}}
    r = httpx.post(f"{live.url}/batch/", json={"api_key": live.shop.write_key, "batch": [ph]},
                   headers={"X-Cx-Consent": "denied"})
    assert r.status_code == 200, r.text
    rows = live.wait_for("shop", lambda r: len(r) == 2, "event_id LIKE 'priv-g-%'")
    stored = " ".join(f"{r['properties']} {r['context']} {r['user_id']} {r['anonymous_id']}" for r in rows)
    for personal in ("anna", "4711", "ph-device-1", "ph-anon-1", "w-1"):
        assert personal not in stored, (personal, stored)
    props = {r["event_id"]: orjson.loads(r["properties"]) for r in rows}
    assert props["priv-g-page"]["url"] == "https://shop.de/danke"
    assert props["priv-g-page"]["referrer"] == "https://webmail.example.de"
    assert props["priv-g-ph"]["cart"] == 2 and props["priv-g-ph"]["$initial_current_url"] == "https://shop.de/danke"


_PERSONAL_PROPS = {
    "email": "anna@example.de", "phone": "+49 170 1234567", "first_name": "Anna",
    "lastName": "Schmidt", "$email": "anna@example.de", "E-Mail": "anna@example.de",
    "shipping": {"street": "Hauptstr. 1", "postal_code": "10115", "city": "Berlin"},
    "note": "reach me at anna.s@example.org", "customer": {"dob": "1990-01-01", "iban": "DE89370400440532013000"},
    "products": [{"name": "Shoe", "price": 59.9, "sku": "S-1"}], "revenue": 59.9, "currency": "EUR",
    "coupon": "SPRING10",
}
_PERSONAL_VALUES = ("anna", "Anna", "Schmidt", "1234567", "Hauptstr", "10115", "1990-01-01", "DE89")


def _signed_up(live: Live, prefix: str, consent: bool) -> list[dict[str, object]]:
    seg = {"type": "track", "event": "Signed Up", "anonymousId": "a-1", "messageId": f"{prefix}-seg",
           "properties": _PERSONAL_PROPS,
           "context": {"consent": {"analytics": consent}, "traits": {"email": "anna@example.de"},
                       "custom": {"contact": {"phoneNumber": "+49 170 1234567"}, "plan": "pro"}}}
    r = httpx.post(f"{live.url}/v1/batch", json={"batch": [seg]}, auth=(live.shop.write_key, ""))
    assert r.status_code == 200, r.text
    ph = {"event": "Signed Up", "distinct_id": "d-1", "uuid": f"{prefix}-ph", "properties": _PERSONAL_PROPS}
    r = httpx.post(f"{live.url}/batch/", json={"api_key": live.shop.write_key, "batch": [ph]},
                   headers={} if consent else {"X-Cx-Consent": "denied"})
    assert r.status_code == 200, r.text
    return live.wait_for("shop", lambda r: len(r) == 2, "event_id LIKE ?", [f"{prefix}-%"])


def test_denied_consent_drops_personal_properties_at_any_depth_and_keeps_products(live: Live) -> None:
    rows = _signed_up(live, "priv-h", consent=False)
    for row in rows:
        stored = f"{row['properties']} {row['context']}"
        for personal in _PERSONAL_VALUES:
            assert personal not in stored, (personal, stored)
        props = orjson.loads(row["properties"])
        # a product's name, the amounts, a coupon and a city are not a person
        assert props["products"] == [{"name": "Shoe", "price": 59.9, "sku": "S-1"}]
        assert props["revenue"] == 59.9 and props["currency"] == "EUR"
        assert props["coupon"] == "SPRING10" and props["shipping"] == {"city": "Berlin"}
        assert row["revenue"] == 59.9
    ctx = orjson.loads(next(r for r in rows if r["event_id"] == "priv-h-seg")["context"])
    assert "traits" not in ctx and ctx["custom"] == {"contact": {}, "plan": "pro"}


def test_given_consent_keeps_the_personal_properties(live: Live) -> None:
    rows = _signed_up(live, "priv-i", consent=True)
    for row in rows:
        props = orjson.loads(row["properties"])
        assert {k: props[k] for k in _PERSONAL_PROPS} == _PERSONAL_PROPS
    ctx = orjson.loads(next(r for r in rows if r["event_id"] == "priv-i-seg")["context"])
    assert ctx["traits"] == {"email": "anna@example.de"}
