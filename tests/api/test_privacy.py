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
