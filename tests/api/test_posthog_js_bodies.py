"""posthog-js' form-encoded capture bodies, built the way posthog-js builds them.

posthog-js (``compressData`` / ``encodePostData`` in its request code) sends
``data=`` + encodeURIComponent(base64 of the UTF-8 JSON) — or of
``LZString.compressToBase64(JSON)`` with ``&compression=lz64`` — as
``application/x-www-form-urlencoded``, and appends ``ip``, ``_`` (milliseconds) and
``ver`` to the URL. The LZ-String reference used here is the ``lzstring`` package (an
independent implementation of the same format; the collector has its own decoder).
"""

from __future__ import annotations

import array
import base64
import gzip
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import lzstring
import orjson
import pytest
from collector_server import Live

from cxlens.api.errors import PayloadTooLarge
from cxlens.api.posthog_form import lz64_decompress

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def encode_uri_component(text: str) -> str:
    return quote(text, safe="-_.!~*'()")


def js_string(text: str) -> str:
    """A Python str as JavaScript sees it: UTF-16 code units (emoji are two)."""
    return "".join(map(chr, array.array("H", text.encode("utf-16-le"))))


def url(live: Live, path: str = "/e/") -> str:
    return f"{live.url}{path}?ip=1&_={int(time.time() * 1000)}&ver=1.160.0"


def events(live: Live, tag: str, n: int = 3) -> list[dict[str, Any]]:
    return [{"event": "$pageview" if i == 0 else "Warenkorb geöffnet 🛒", "uuid": str(uuid.uuid4()),
             "properties": {"token": live.shop.write_key, "distinct_id": f"{tag}-user",
                            "$device_id": f"{tag}-device", "$session_id": f"{tag}-s",
                            "$current_url": "https://shop.de/kasse?utm_source=newsletter",
                            "title": "Kasse", "i": i},
             "timestamp": "2026-01-01T10:00:00.000Z"} for i in range(n)]


def _stored(live: Live, sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [e["uuid"] for e in sent]
    marks = ", ".join("?" for _ in ids)
    return live.wait_for("shop", lambda r: len(r) == len(ids), f"event_id IN ({marks})", ids)


def test_base64_form_body_as_posthog_js_sends_it(live: Live) -> None:
    sent = events(live, "b64")
    data = base64.b64encode(orjson.dumps(sent)).decode()  # _base64Encode: btoa(utf8Encode(json))
    r = httpx.post(url(live), content=f"data={encode_uri_component(data)}", headers=FORM)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3
    rows = _stored(live, sent)
    assert {row["event"] for row in rows} == {"Kasse", "Warenkorb geöffnet 🛒"}
    assert all(row["user_id"] == "b64-user" and row["session_id"] == "b64-s" for row in rows)


def test_lz64_form_body_as_posthog_js_sends_it(live: Live) -> None:
    sent = events(live, "lz")
    data = lzstring.LZString().compressToBase64(js_string(orjson.dumps(sent).decode()))
    body = f"data={encode_uri_component(data)}&compression=lz64"
    r = httpx.post(url(live, "/batch/"), content=body, headers=FORM)
    assert r.status_code == 200, r.text
    rows = _stored(live, sent)
    assert sorted(orjson.loads(row["properties"])["i"] for row in rows) == [0, 1, 2]
    assert "Warenkorb geöffnet 🛒" in {row["event"] for row in rows}


def test_send_beacon_form_body_without_content_type_and_unescaped_plus(live: Live) -> None:
    # sendBeacon sends a Blob; a proxy may drop its type, and some clients leave '+' raw
    sent = events(live, "beacon", 1)
    data = base64.b64encode(orjson.dumps(sent)).decode()
    r = httpx.post(url(live), content=f"data={data}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert len(_stored(live, sent)) == 1


def test_gzip_js_blob_with_the_query_string_posthog_js_builds(live: Live) -> None:
    sent = events(live, "gzjs", 2)
    r = httpx.post(url(live) + "&compression=gzip-js", content=gzip.compress(orjson.dumps(sent), mtime=0),
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert len(_stored(live, sent)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("data=", "data"),
        ("compression=lz64", "data"),
        ("data=%%%%", "data"),
        ("data=AAAA&compression=lz64", "data"),
        ("data=!!!!&compression=lz64", "data"),
        ("data=e30%3D&compression=brotli", "compression"),
        ("data=bm90IGpzb24%3D", "body"),  # base64 of 'not json'
    ],
)
def test_broken_form_bodies_are_a_json_400_naming_the_field(live: Live, body: str, field: str) -> None:
    r = httpx.post(url(live), content=body, headers=FORM)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_body" and r.json()["field"] == field


def test_an_lz64_bomb_stops_at_the_body_limit() -> None:
    # LZ-String output can grow quadratically with its input: the decoder counts as it goes
    text = lzstring.LZString().compressToBase64("a" * 2_000_000)
    assert len(text) < 20_000
    with pytest.raises(PayloadTooLarge):
        lz64_decompress(text, 500 * 1024)


@pytest.mark.parametrize("path", ["/v1/batch", "/batch/"])
def test_a_json_body_labelled_form_encoded_is_read_as_json(live: Live, path: str) -> None:
    # `curl -d '{...}'` labels every body application/x-www-form-urlencoded; a form body
    # starts with a field name, never with '{' or '[', so the body decides
    sent = events(live, f"curl{path.strip('/').replace('/', '-')}", 2)
    body = (orjson.dumps({"batch": [{"type": "track", "event": "Curl", "userId": "curl-u",
                                     "messageId": e["uuid"]} for e in sent]})
            if path == "/v1/batch" else orjson.dumps({"api_key": live.shop.write_key, "batch": sent}))
    r = httpx.post(live.url + path, content=b"\n " + body, headers=FORM,
                   auth=(live.shop.write_key, "") if path == "/v1/batch" else None)
    assert r.status_code == 200, r.text
    assert len(_stored(live, sent)) == 2
    no_key = httpx.post(live.url + "/v1/batch", content=b'{"batch": []}', headers=FORM)
    assert no_key.status_code == 401, no_key.text
