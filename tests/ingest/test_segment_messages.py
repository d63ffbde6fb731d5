"""Segment/RudderStack messages become canonical event rows (no server involved)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from cxlens.ingest.segment import Limits, MessageError, messages_to_events

RECEIVED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def one(msg: dict[str, object], **kw: object) -> dict[str, object]:
    table, errors = messages_to_events([msg], sent_at=kw.pop("sent_at", None), received_at=RECEIVED)  # type: ignore[arg-type]
    assert errors == []
    rows = table.to_pylist()
    assert len(rows) == 1
    return rows[0]


def test_track_keeps_message_id_event_properties_and_revenue() -> None:
    row = one({"type": "track", "messageId": "m1", "userId": 42, "event": "Order Completed",
               "timestamp": "2024-05-01T11:00:00Z",
               "properties": {"revenue": 19.9, "currency": "eur", "sku": "A"}})
    assert row["event_id"] == "m1"
    assert row["user_id"] == "42"
    assert row["event"] == "Order Completed"
    assert row["revenue"] == 19.9 and row["currency"] == "eur"
    assert orjson.loads(row["properties"])["sku"] == "A"
    assert row["timestamp"] == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_sent_at_corrects_the_client_clock() -> None:
    # client clock is 1 h fast: sentAt 13:00 while the server receives at 12:00
    row = one({"type": "track", "anonymousId": "a", "event": "x",
               "timestamp": "2024-05-01T12:59:00Z"}, sent_at=RECEIVED + timedelta(hours=1))
    assert row["timestamp"] == RECEIVED - timedelta(minutes=1)


def test_identify_traits_from_traits_and_rudderstack_context_traits() -> None:
    row = one({"type": "identify", "userId": "u", "traits": {"plan": "pro"},
               "context": {"traits": {"email": "a@b.de", "plan": "free"}}})
    ctx = orjson.loads(row["context"])
    assert ctx["traits"] == {"email": "a@b.de", "plan": "pro"}


def test_page_name_group_and_alias_mapping() -> None:
    table, errors = messages_to_events([
        {"type": "page", "anonymousId": "a", "name": "Home",
         "properties": {"url": "https://shop.de/?utm_source=google&utm_medium=cpc&gclid=X"}},
        {"type": "group", "userId": "u", "groupId": "acme", "traits": {"size": 5}},
        {"type": "alias", "userId": "u", "previousId": "a"},
    ], sent_at=None, received_at=RECEIVED)
    assert errors == []
    page, group, alias = table.to_pylist()
    assert page["event"] == "Home"
    ctx = orjson.loads(page["context"])
    assert ctx["campaign"] == {"source": "google", "medium": "cpc"}
    assert ctx["click_ids"] == {"gclid": "X"}
    assert group["account_id"] == "acme" and orjson.loads(group["properties"]) == {"size": 5}
    assert (alias["user_id"], alias["anonymous_id"]) == ("u", "a")


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        ({"type": "nope", "userId": "u"}, "type"),
        ({"type": "track", "userId": "u"}, "event"),
        ({"type": "track", "event": "x"}, "userId"),
        ({"type": "track", "event": "x", "userId": ["u"]}, "userId"),
        ({"type": "track", "event": "x", "userId": "u", "properties": [1]}, "properties"),
        ({"type": "track", "event": "x", "userId": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"type": "track", "event": "x", "userId": "u", "timestamp": "2999-01-01T00:00:00Z"}, "timestamp"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "group", "userId": "u"}, "groupId"),
    ],
)
def test_invalid_messages_are_reported_with_their_field(msg: dict[str, object], field: str) -> None:
    table, errors = messages_to_events(
        [{"type": "track", "event": "ok", "userId": "u"}, msg], sent_at=None, received_at=RECEIVED
    )
    assert table.num_rows == 1
    assert len(errors) == 1 and isinstance(errors[0], MessageError)
    assert (errors[0].index, errors[0].field) == (1, field)


def test_oversized_event_is_rejected() -> None:
    big = {"type": "track", "event": "x", "userId": "u", "properties": {"p": "x" * 40_000}}
    table, errors = messages_to_events([big], sent_at=None, received_at=RECEIVED)
    assert table.num_rows == 0 and "limit" in errors[0].reason
    table, errors = messages_to_events([big], sent_at=None, received_at=RECEIVED,
                                       limits=Limits(max_event_bytes=100_000))
    assert table.num_rows == 1


def test_ip_is_anonymised_and_consent_denied_stores_nothing_personal() -> None:
    table, _ = messages_to_events([
        {"type": "track", "event": "x", "userId": "u", "context": {"ip": "203.0.113.77"}},
        {"type": "track", "event": "x", "userId": "u", "messageId": "c",
         "context": {"ip": "2001:db8:1:2:3:4:5:6", "consent": {"analytics": False},
                     "userAgent": "UA", "page": {"url": "https://s.de/a?email=x@y.de"}}},
        {"type": "identify", "userId": "u", "context": {"consent": {"analytics": False}}},
    ], sent_at=None, received_at=RECEIVED)
    first, denied = table.to_pylist()
    assert orjson.loads(first["context"])["ip"] == "203.0.113.0"
    ctx = orjson.loads(denied["context"])
    assert denied["user_id"] is None and denied["anonymous_id"] is None
    assert "ip" not in ctx and "user_agent" not in ctx
    assert ctx["page"]["url"] == "https://s.de/a"


def test_a_timestamp_out_of_range_says_the_limit_in_words_and_how_to_fix_it() -> None:
    future = {"type": "track", "event": "x", "userId": "u", "timestamp": "2024-05-03T12:00:00Z"}
    _, errors = messages_to_events([future], sent_at=None, received_at=RECEIVED)
    assert "more than 24 hours after" in errors[0].reason and "sentAt" in errors[0].reason
    past = {"type": "track", "event": "x", "userId": "u", "timestamp": "2024-04-30T00:00:00Z"}
    _, errors = messages_to_events([past], sent_at=None, received_at=RECEIVED,
                                   limits=Limits(max_past=timedelta(hours=12)))
    assert "more than 0.5 days before" in errors[0].reason


def test_an_id_of_the_wrong_type_says_integers_are_fine_too() -> None:
    # SDKs send numeric user ids and they are taken; the reason said "must be a string"
    _, errors = messages_to_events([{"type": "track", "event": "x", "userId": 1.5}],
                                   sent_at=None, received_at=RECEIVED)
    assert (errors[0].field, errors[0].reason) == ("userId", "must be a string or an integer, not a number")
    table, errors = messages_to_events([{"type": "track", "event": "x", "userId": 42}],
                                       sent_at=None, received_at=RECEIVED)
    assert errors == [] and table.column("user_id").to_pylist() == ["42"]
