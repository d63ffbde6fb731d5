"""The real Segment, RudderStack and PostHog SDKs against the real server on loopback:
every field lands where the data model says."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson
import posthog
import rudderstack.analytics as rudder
import segment.analytics as segment
from collector_server import Live


def ctx(row: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(row["context"])
    return value


def props(row: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(row["properties"])
    return value


def by_type(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in rows}


def _send_all_types(client: Any, user: str) -> None:
    client.identify(user, {"email": f"{user}@example.de", "plan": "pro"})
    client.track(user, "Order Completed", {"revenue": 49.5, "currency": "EUR", "sku": "A1"},
                 context={"page": {"url": "https://shop.de/kasse?utm_source=newsletter&utm_medium=email"}})
    client.page(user, "Shop", "Home", {"url": "https://shop.de/?gclid=G1", "referrer": "https://www.google.de/"})
    client.screen(user, "App", "Basket", {"items": 2})
    client.group(user, f"acme-{user}", {"name": "ACME GmbH"})
    client.alias(f"anon-{user}", user)
    client.flush()


def _assert_all_types(rows: list[dict[str, Any]], user: str) -> None:
    assert len(rows) == 6, rows
    t = by_type(rows)
    assert all(r["user_id"] == user for r in rows)
    assert ctx(t["identify"])["traits"] == {"email": f"{user}@example.de", "plan": "pro"}
    track = t["track"]
    assert track["event"] == "Order Completed"
    assert (track["revenue"], track["currency"]) == (49.5, "EUR")
    assert props(track)["sku"] == "A1"
    assert ctx(track)["campaign"] == {"source": "newsletter", "medium": "email"}
    assert track["channel"] == "email"
    page = t["page"]
    assert page["event"] == "Home" and props(page)["category"] == "Shop"
    assert ctx(page)["page"]["url"] == "https://shop.de/?gclid=G1"
    assert ctx(page)["click_ids"] == {"gclid": "G1"} and page["channel"] == "paid_search"
    assert t["screen"]["event"] == "Basket" and props(t["screen"])["items"] == 2
    assert t["group"]["account_id"] == f"acme-{user}"
    assert props(t["group"])["name"] == "ACME GmbH"
    assert t["alias"]["anonymous_id"] == f"anon-{user}"
    assert props(t["alias"])["previous_id"] == f"anon-{user}"
    for r in rows:
        assert ctx(r)["ip"] == "127.0.0.0"  # anonymised loopback address
        assert ctx(r)["library"]["name"] == "analytics-python"
        assert len(r["event_id"]) == 36  # the SDK's messageId (a uuid4)


def test_segment_sdk_all_message_types_land_in_their_columns(live: Live) -> None:
    client = segment.Client(live.shop.write_key, host=live.url, sync_mode=True)
    _send_all_types(client, "seg-1")
    rows = live.wait_for("shop", lambda r: len(r) >= 6, "user_id = ?", ["seg-1"])
    _assert_all_types(rows, "seg-1")


def test_segment_sdk_gzip_bodies_are_accepted(live: Live) -> None:
    client = segment.Client(live.shop.write_key, host=live.url, sync_mode=True, gzip=True)
    _send_all_types(client, "seg-gz")
    rows = live.wait_for("shop", lambda r: len(r) >= 6, "user_id = ?", ["seg-gz"])
    _assert_all_types(rows, "seg-gz")


def test_rudderstack_sdk_gzip_and_context_traits(live: Live) -> None:
    client = rudder.Client(live.shop.write_key, host=live.url, sync_mode=True)
    _send_all_types(client, "rud-1")
    rows = live.wait_for("shop", lambda r: len(r) >= 6, "user_id = ?", ["rud-1"])
    _assert_all_types(rows, "rud-1")


def test_events_are_queryable_within_two_seconds_of_acknowledgement(live: Live) -> None:
    user = f"fast-{uuid.uuid4().hex[:6]}"
    client = segment.Client(live.shop.write_key, host=live.url, sync_mode=True)
    client.track(user, "Ping")
    client.flush()
    acked = time.monotonic()
    rows = live.wait_for("shop", lambda r: len(r) == 1, "user_id = ?", [user], timeout=2.0)
    assert len(rows) == 1 and time.monotonic() - acked < 2.0


def test_single_endpoints_accept_basic_auth_or_write_key_in_body(live: Live) -> None:
    for kind, msg in [("track", {"event": "Clicked"}), ("identify", {"traits": {"a": 1}}),
                      ("page", {"name": "P"}), ("screen", {"name": "S"}),
                      ("group", {"groupId": "g"}), ("alias", {"previousId": "old"})]:
        body = {"userId": "single-basic", "messageId": f"basic-{kind}", **msg}
        r = httpx.post(f"{live.url}/v1/{kind}", json=body, auth=(live.shop.write_key, ""))
        assert r.status_code == 200, r.text
        body = {**body, "messageId": f"body-{kind}", "writeKey": live.shop.write_key}
        r = httpx.post(f"{live.url}/v1/{kind}", json=body)
        assert r.status_code == 200, r.text
    rows = live.wait_for("shop", lambda r: len(r) >= 12, "user_id = ?", ["single-basic"])
    assert sorted({r["type"] for r in rows}) == sorted(
        ["track", "identify", "page", "screen", "group", "alias"])
    assert len(rows) == 12


def test_posthog_default_capture_maps_identity_pages_and_sessions(live: Live) -> None:
    client = posthog.Posthog(live.shop.write_key, host=live.url, sync_mode=True)
    client.capture("Product Viewed", distinct_id="ph-user", properties={
        "sku": "B2", "$session_id": "sess-1", "$current_url": "https://shop.de/p/b2?utm_source=google&utm_medium=cpc",
        "$referrer": "https://www.google.de/", "utm_source": "google", "utm_medium": "cpc"})
    client.capture("$pageview", distinct_id="ph-anon", properties={
        "$device_id": "ph-anon", "$current_url": "https://shop.de/", "title": "Start"})
    client.set(distinct_id="ph-user", properties={"plan": "pro"})
    client.alias("ph-anon", "ph-user")
    client.flush()
    rows = live.wait_for("shop", lambda r: len(r) >= 4,
                         "coalesce(user_id, anonymous_id) IN ('ph-user', 'ph-anon')")
    assert len(rows) == 4, rows
    t = by_type(rows)
    track = t["track"]
    assert (track["event"], track["user_id"], track["session_id"]) == ("Product Viewed", "ph-user", "sess-1")
    assert ctx(track)["campaign"] == {"source": "google", "medium": "cpc"}
    assert ctx(track)["page"]["url"].startswith("https://shop.de/p/b2")
    assert track["channel"] == "paid_search" and props(track)["sku"] == "B2"
    assert ctx(track)["library"]["name"] == "posthog-python"
    page = t["page"]
    assert (page["anonymous_id"], page["user_id"], page["event"]) == ("ph-anon", None, "Start")
    assert ctx(t["identify"])["traits"] == {"plan": "pro"}
    assert (t["alias"]["user_id"], t["alias"]["anonymous_id"]) == ("ph-user", "ph-anon")
    assert all(len(r["event_id"]) == 36 for r in rows)


def test_posthog_v1_capture_mode_gets_per_event_results(live: Live) -> None:
    errors: list[Any] = []
    for compression in ("gzip", "deflate", "zstd"):
        client = posthog.Posthog(live.shop.write_key, host=live.url, sync_mode=True,
                                 capture_mode="v1", capture_compression=compression,
                                 on_error=lambda e, batch: errors.append(e))
        client.capture("V1 Event", distinct_id=f"v1-{compression}", properties={"$session_id": "s-v1"})
        client.flush()
    rows = live.wait_for("shop", lambda r: len(r) >= 3, "event = ?", ["V1 Event"])
    assert errors == []
    assert sorted(r["user_id"] for r in rows) == ["v1-deflate", "v1-gzip", "v1-zstd"]
    assert all(r["session_id"] == "s-v1" for r in rows)
    # the body the SDK parses: one result per uuid
    ev = {"event": "x", "uuid": str(uuid.uuid4()), "distinct_id": "d",
          "timestamp": "2024-01-01T00:00:00Z", "properties": {}}
    bad = {"event": "", "uuid": str(uuid.uuid4()), "distinct_id": "d"}
    r = httpx.post(f"{live.url}/i/v1/analytics/events", json={"batch": [ev, bad]},
                   headers={"Authorization": f"Bearer {live.shop.write_key}"})
    assert r.status_code == 200
    assert r.json()["results"] == {ev["uuid"]: {"result": "ok"}, bad["uuid"]: {"result": "drop"}}


def test_a_key_only_ever_writes_into_its_own_project(live: Live) -> None:
    marker = f"iso-{uuid.uuid4().hex[:8]}"
    segment.Client(live.other.write_key, host=live.url, sync_mode=True).track(marker, "Only Other")
    httpx.post(f"{live.url}/v1/track", json={"userId": marker, "event": "Only Other",
                                             "writeKey": live.other.write_key},
               auth=(live.other.write_key, ""))
    # a body naming the other project's key cannot override the Basic auth key
    httpx.post(f"{live.url}/v1/track", json={"userId": marker, "event": "Only Other",
                                             "writeKey": live.shop.write_key},
               auth=(live.other.write_key, ""))
    rows = live.wait_for("other", lambda r: len(r) >= 3, "user_id = ?", [marker])
    assert len(rows) >= 1
    time.sleep(0.6)
    assert live.rows("shop", "user_id = ?", [marker]) == []


def test_missing_or_unknown_key_is_401_with_json(live: Live) -> None:
    msg = {"type": "track", "userId": "u", "event": "e"}
    for kwargs in ({}, {"auth": ("cxw_unknown", "")}):
        r = httpx.post(f"{live.url}/v1/batch", json={"batch": [msg]}, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized" and r.json()["field"] == "writeKey"
    r = httpx.post(f"{live.url}/batch/", json={"api_key": "nope", "batch": []})
    assert r.status_code == 401
    r = httpx.post(f"{live.url}/i/v1/analytics/events", json={"batch": []})
    assert r.status_code == 401
    # the secret key reads, it does not ingest
    r = httpx.post(f"{live.url}/v1/batch", json={"batch": [msg]}, auth=(live.shop.secret_key, ""))
    assert r.status_code == 401


def test_posthog_js_style_gzip_named_in_the_query_string(live: Live) -> None:
    import gzip

    event = {"event": "$pageview", "distinct_id": "js-anon", "uuid": str(uuid.uuid4()),
             "properties": {"token": live.shop.write_key, "$device_id": "js-anon",
                            "$current_url": "https://shop.de/x", "$session_id": "js-s"}}
    r = httpx.post(f"{live.url}/e/?compression=gzip-js", content=gzip.compress(orjson.dumps([event])),
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    rows = live.wait_for("shop", lambda r: len(r) == 1, "event_id = ?", [event["uuid"]])
    assert (rows[0]["type"], rows[0]["anonymous_id"], rows[0]["session_id"]) == ("page", "js-anon", "js-s")


def test_ingest_routes_are_in_the_openapi_schema(live: Live) -> None:
    paths = httpx.get(f"{live.url}/api/v1/openapi.json").json()["paths"]
    for path in ("/v1/batch", "/v1/track", "/batch", "/e", "/i/v1/analytics/events"):
        assert "post" in paths[path], path
    assert paths["/v1/batch"]["post"]["tags"] == ["collector"]
