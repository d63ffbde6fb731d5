"""Bad input gets a JSON 4xx naming the problem, and harms nothing (fuzzed too)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from collector_server import Live
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.api.collector import CollectorConfig
from cxlens.ingest.segment import messages_to_events
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


def post(live: Live, path: str, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(live.url + path, content=content,
                      headers={"Content-Type": "application/json", **headers},
                      auth=(live.shop.write_key, ""))


def msg(**kw: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "bad-input", "event": "ok", **kw}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code", "field"),
    [
        (b"{not json", {}, 400, "invalid_body", "body"),
        (b"", {}, 400, "invalid_body", "body"),
        (b'{"batch": "x"}', {}, 400, "invalid_body", "batch"),
        (b"[1, 2]", {}, 400, "invalid_body", "body"),
        (b'{"batch": [{"type": "t\xff"}]}', {}, 400, "invalid_body", "body"),
        (b"\x1f\x8b\x08\x00broken", {"Content-Encoding": "gzip"}, 400, "invalid_body", "body"),
        (b"{}", {"Content-Encoding": "br"}, 415, "unsupported_encoding", "Content-Encoding"),
        (b'{"batch": [], "sentAt": 5}', {}, 400, "invalid_body", "sentAt"),
        (b'{"batch": [{"type": "track", "userId": 1}]}', {}, 400, "rejected", "batch[0].event"),
        (b'{"batch": [{"type": "unknown", "userId": "u"}]}', {}, 400, "rejected", "batch[0].type"),
    ],
)
def test_malformed_requests_get_a_json_4xx_naming_the_field(
    live: Live, body: bytes, headers: dict[str, str], status: int, code: str, field: str
) -> None:
    r = post(live, "/v1/batch", body, **headers)
    assert r.status_code == status, r.text
    assert r.json()["error"] == code
    assert r.json()["field"] == field


def test_oversized_bodies_batches_and_zip_bombs_are_413(live: Live) -> None:
    big = orjson.dumps({"batch": [msg(properties={"p": "x" * 1000}) for _ in range(600)]})
    r = post(live, "/v1/batch", big)
    assert r.status_code == 413 and r.json()["field"] == "body"
    bomb = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")
    r = post(live, "/v1/batch", bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413
    many = orjson.dumps({"batch": [msg() for _ in range(2501)]})
    r = post(live, "/v1/batch", many)
    assert r.status_code == 413 and r.json()["field"] == "batch"


def test_in_a_batch_valid_events_are_stored_and_invalid_ones_reported(live: Live) -> None:
    now = datetime.now(UTC)
    body = {"batch": [
        msg(messageId="keep-1"),
        msg(messageId="drop-1", userId=None),
        msg(messageId="drop-2", timestamp=(now + timedelta(days=30)).isoformat()),
        msg(messageId="drop-3", properties={"big": "x" * 40_000}),
        msg(messageId="keep-2", timestamp=(now + timedelta(days=30)).isoformat(),
            sentAt=(now + timedelta(days=30)).isoformat()),  # client clock a month ahead
    ]}
    r = post(live, "/v1/batch", orjson.dumps(body))
    assert r.status_code == 200
    doc = r.json()
    assert doc["accepted"] == 2
    assert [(e["index"], e["field"]) for e in doc["rejected"]] == [
        (1, "batch[1].userId"), (2, "batch[2].timestamp"), (3, "batch[3]")]
    rows = live.wait_for("shop", lambda r: len(r) >= 2, "event_id IN ('keep-1', 'keep-2', 'drop-1', 'drop-2', 'drop-3')")
    assert sorted(r["event_id"] for r in rows) == ["keep-1", "keep-2"]
    corrected = next(r for r in rows if r["event_id"] == "keep-2")["timestamp"]
    assert abs((corrected - now).total_seconds()) < 60


def test_healthz_and_metrics_report_rejections(live: Live) -> None:
    health = httpx.get(live.url + "/healthz").json()
    assert health["status"] == "ok" and health["problems"] == [] and health["writer_alive"] is True
    text = httpx.get(live.url + "/metrics").text
    assert "cxlens_events_accepted_total" in text
    assert 'cxlens_request_errors_total{code="unauthorized"}' in text or "cxlens_request_errors" in text
    assert "cxlens_wal_lag_seconds" in text and "cxlens_writer_batch_seconds_bucket" in text


# -- fuzz ------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
messages = st.dictionaries(
    st.sampled_from(["type", "userId", "anonymousId", "event", "name", "messageId", "timestamp",
                     "sentAt", "properties", "traits", "context", "groupId", "previousId"]),
    json_values | st.sampled_from(["track", "page", "identify", "alias", "group", "2024-01-01T00:00:00Z"]),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(messages | json_values, max_size=8))
def test_the_decoder_never_crashes_and_accounts_for_every_message(batch: list[Any]) -> None:
    table, errors = messages_to_events(batch, sent_at=None, received_at=datetime.now(UTC))
    assert table.num_rows + len(errors) <= len(batch)
    assert all(0 <= e.index < len(batch) for e in errors)


def _dumps(value: Any) -> bytes:
    # the stdlib also writes integers beyond 64 bits and Infinity, which clients do send
    return json.dumps(value).encode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    root: Path = tmp_path_factory.mktemp("fuzz") / "ws"
    ws = Workspace.init(root)
    key = create_project(ws.catalog, "fuzz").write_key
    ws.close()
    app = create_app(root, CollectorConfig(fsync=False, max_body_bytes=20_000))
    with TestClient(app, raise_server_exceptions=False) as tc:
        yield tc, key


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/batch", "/v1/track", "/v1/page", "/batch/", "/e/", "/capture/",
                             "/i/v1/analytics/events"]),
       body=st.one_of(st.binary(max_size=300),
                      st.lists(messages, max_size=5).map(lambda b: _dumps({"batch": b})),
                      messages.map(_dumps)),
       encoding=st.sampled_from([None, "gzip", "deflate", "zstd", "bogus"]))
def test_endpoints_answer_every_input_with_json_and_never_500(
    client: tuple[TestClient, str], path: str, body: bytes, encoding: str | None
) -> None:
    tc, key = client
    headers = {"Authorization": f"Bearer {key}" if path.startswith("/i/") else ""}
    if not path.startswith("/i/"):
        import base64

        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    if encoding:
        headers["Content-Encoding"] = encoding
    r = tc.post(path, content=body, headers=headers)
    assert r.status_code < 500, r.text
    assert isinstance(r.json(), dict)


def test_a_mistyped_path_is_a_json_404_naming_the_collector_paths(live: Live) -> None:
    r = post(live, "/v1/trak", orjson.dumps(msg()))
    assert r.status_code == 404
    body = r.json()  # was FastAPI's {"detail": "Not Found"}
    assert body["error"] == "not_found" and body["field"] == "path"
    assert "/v1/trak" in body["message"] and "/v1/batch" in body["message"]


def test_an_empty_body_labelled_a_form_says_it_is_empty_and_a_missing_id_is_said_once(
    live: Live
) -> None:
    # curl -d '' labels the body application/x-www-form-urlencoded: the answer was
    # "form-encoded body has no 'data' field"
    r = post(live, "/v1/batch", b"", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.json()["field"]) == (400, "body")
    assert "empty" in r.json()["message"]

    r = post(live, "/v1/batch", orjson.dumps({"batch": [{"type": "track", "event": "x"}]}))
    assert r.status_code == 400
    assert r.json()["message"].endswith("first: batch[0].userId or anonymousId is required")


def test_a_body_that_is_not_utf8_names_the_byte_and_where_it_is(live: Live) -> None:
    r = post(live, "/v1/batch", b'{"batch": [{"type": "track", "event": "Bestellung \xfcber"}]}')
    assert (r.status_code, r.json()["field"]) == (400, "body")
    # was orjson's "str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)"
    assert r.json()["message"].startswith("body is not UTF-8: byte 0xfc at offset 50")


def test_the_secret_key_sent_as_a_write_key_is_told_apart_from_an_unknown_key(live: Live) -> None:
    body = orjson.dumps(msg())
    r = httpx.post(live.url + "/v1/track", content=body, auth=(live.shop.secret_key, ""))
    assert (r.status_code, r.json()["field"]) == (401, "writeKey")
    assert "secret key" in r.json()["message"] and "cxw_" in r.json()["message"]
    r = httpx.post(live.url + "/v1/track", content=body, auth=("cxw_nope", ""))
    assert r.status_code == 401 and r.json()["message"].startswith("unknown write key")
