"""Segment / RudderStack spec messages -> canonical event rows.

Used by the collector's ``/v1/*`` endpoints (and, through a translation, the PostHog
endpoints) and by the importer of Segment/RudderStack archive files, so that a message
lands in the same columns whichever way it arrives.

Mapping (docs/collector.md has the full table):

* ``messageId`` -> ``event_id`` (absent: the workspace derives one from the content)
* ``track.event``, ``page.name``, ``screen.name`` -> ``event``
* ``userId`` / ``anonymousId`` -> ``user_id`` / ``anonymous_id`` (numbers become text)
* ``identify.traits`` merged over ``context.traits`` (RudderStack puts them there) ->
  ``context.traits``
* ``group.groupId`` -> ``account_id`` (other types: ``context.groupId``); group traits
  -> ``properties``
* ``alias``: ``userId`` -> ``user_id``, ``previousId`` -> ``anonymous_id`` (unless an
  anonymousId is given) and ``properties.previous_id``
* ``context.sessionId`` -> ``session_id``; ``context.userAgent`` -> ``context.user_agent``;
  utm_* and click ids of ``context.page.url`` fill ``context.campaign`` /
  ``context.click_ids`` when the SDK did not; ``properties.revenue`` / ``currency``
  -> ``revenue`` / ``currency``; anything else stays in ``properties`` / ``context``
  (unknown top-level fields go to ``context.extra``).

Timestamps are corrected for the sender's clock the way Segment does it: when the
message (or its batch) carries ``sentAt``, ``timestamp = received_at - (sentAt -
timestamp)``; without ``timestamp`` the event is placed at ``received_at``. A corrected
timestamp more than ``max_future`` after ``received_at`` (or more than ``max_past``
before it, if set) is rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
import pyarrow as pa

from cxlens.ingest.privacy import (
    DEFAULT_PRIVACY,
    PrivacySettings,
    apply_ip,
    consent_denied,
    scrub_context,
    scrub_properties,
)
from cxlens.model.events import EVENT_TYPES, FILE_SCHEMA

#: FILE_SCHEMA with every column nullable: the workspace fills source and channel.
ROW_SCHEMA: Final = pa.schema([f.with_nullable(True) for f in FILE_SCHEMA])
COLUMNS: Final = tuple(ROW_SCHEMA.names)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
MAX_ID_CHARS: Final = 1024

CAMPAIGN_PARAMS: Final = {
    "utm_source": "source", "utm_medium": "medium", "utm_campaign": "name",
    "utm_term": "term", "utm_content": "content", "utm_id": "id",
}
CLICK_ID_PARAMS: Final = frozenset({
    "gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid", "li_fat_id",
    "twclid", "yclid", "sccid", "epik",
})
_KNOWN_TOP: Final = frozenset({
    "type", "messageId", "timestamp", "originalTimestamp", "sentAt", "receivedAt",
    "writeKey", "userId", "anonymousId", "event", "name", "properties", "traits",
    "context", "groupId", "previousId", "integrations", "channel", "version",
    "_metadata", "category", "options", "request_ip", "rudderId", "projectId",
})

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class MessageError:
    """Why message ``index`` of a batch was not taken; ``field`` is a path in it."""

    index: int
    field: str
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int = 32 * 1024
    max_future: timedelta | None = timedelta(days=1)
    max_past: timedelta | None = None
    #: the spans in microseconds, as the per-message check compares them
    future_us: int | None = field(init=False, repr=False, compare=False)
    past_us: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "future_us", None if self.max_future is None else self.max_future // _US)
        object.__setattr__(self, "past_us", None if self.max_past is None else self.max_past // _US)


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the collector knows about the HTTP request a message came in."""

    client_ip: str | None = None
    #: DNT: 1 to a project that honours it, or a consent-denied header
    deny_personal: bool = False
    source: str | None = None


DEFAULT_REQUEST: Final = RequestInfo()


class Bad(Exception):
    """A message is invalid; raised inside the normaliser, reported as MessageError."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# -- small validators ---------------------------------------------------------------
def parse_time(value: Any, field: str) -> datetime | None:
    """ISO 8601 text -> aware datetime (naive means UTC); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Bad(field, "must be an ISO 8601 date-time string")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise Bad(field, f"{value[:40]!r} is not an ISO 8601 date-time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def to_us(dt: datetime) -> int:
    d = dt - _EPOCH  # attribute arithmetic: a third cheaper than ``// timedelta``
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


_MIN_US: Final = to_us(datetime(1900, 1, 1, tzinfo=UTC))
_END_US: Final = to_us(datetime(2201, 1, 1, tzinfo=UTC))


def _text(value: Any, field: str, *, required: bool = False) -> str | None:
    """An id-like value: text or an integer (SDKs send numeric user ids)."""
    if type(value) is str and value and len(value) <= MAX_ID_CHARS and value.isascii():
        return value  # the common case, checked first (hot path of the collector)
    if value is None or value == "":
        if required:
            raise Bad(field, "is required")
        return None
    if isinstance(value, str):
        if len(value) > MAX_ID_CHARS:
            raise Bad(field, f"is longer than {MAX_ID_CHARS} characters")
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise Bad(field, "is not valid Unicode text") from None
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Bad(field, f"must be a string or an integer, not {_kind(value)}")


def _obj(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Bad(field, f"must be an object, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), "null" if value is None else "a value")


def _dumps(value: dict[str, Any], field: str) -> str:
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise Bad(field, f"cannot be stored as JSON: {exc}") from None


def _fill_acquisition(ctx: dict[str, Any], page: dict[str, Any]) -> None:
    # Server-side SDKs and cx.js send the page URL; deriving campaign and click ids here
    # means the channel classifier sees them however the event arrived.
    url = page.get("url")
    search = page.get("search")
    query = search if isinstance(search, str) and search else None
    if query is None and isinstance(url, str) and "?" in url:
        # what urlsplit(url).query gives (the part between '?' and '#'), without parsing
        # the rest of the URL
        query = url.partition("#")[0].partition("?")[2]
    if not query:
        return
    campaign, clicks = _query_acquisition(query)
    if campaign and not isinstance(ctx.get("campaign"), dict):
        ctx["campaign"] = dict(campaign)
    if clicks and not isinstance(ctx.get("click_ids"), dict):
        ctx["click_ids"] = dict(clicks)


@lru_cache(maxsize=4096)  # landing URLs repeat within a batch and across a campaign
def _query_acquisition(query: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    campaign: dict[str, str] = {}
    clicks: dict[str, str] = {}
    for key, value in parse_qsl(query.lstrip("?")):
        k = key.lower()
        if k in CAMPAIGN_PARAMS:
            campaign.setdefault(CAMPAIGN_PARAMS[k], value)
        elif k in CLICK_ID_PARAMS:
            clicks.setdefault(k, value)
    return tuple(campaign.items()), tuple(clicks.items())


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        f = float(value)
        return f if f == f and abs(f) != float("inf") else None
    if isinstance(value, str):
        try:
            f = float(value)
        except ValueError:
            return None
        return f if f == f and abs(f) != float("inf") else None
    return None


# -- one message --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Arrival:
    """What every message of one request shares, worked out once per request: the
    receive time and the batch's ``sentAt`` in microseconds, the limits, the project's
    privacy settings and the request's (already anonymised) address."""

    received_us: int
    sent_us: int | None
    limits: Limits
    privacy: PrivacySettings
    request: RequestInfo
    #: ``context.ip`` of a message that brings none (None: no address is stored)
    request_ip: str | None
    trust_received_at: bool

    @classmethod
    def of(cls, *, sent_at: datetime | None, received_at: datetime,
           limits: Limits = DEFAULT_LIMITS, privacy: PrivacySettings = DEFAULT_PRIVACY,
           request: RequestInfo = DEFAULT_REQUEST, trust_received_at: bool = False) -> Arrival:
        return cls(to_us(received_at), None if sent_at is None else to_us(sent_at), limits,
                   privacy, request, _request_ip(request.client_ip, privacy), trust_received_at)


@lru_cache(maxsize=1024)  # requests come from the same addresses again and again
def _request_ip(client_ip: str | None, privacy: PrivacySettings) -> str | None:
    """What ``apply_ip`` makes ``context.ip`` of a message without an address."""
    probe: dict[str, Any] = {}
    apply_ip(probe, client_ip, privacy)
    return probe.get("ip")


_TYPE_NAMES: Final = {t: t for t in EVENT_TYPES}


def message_row(
    msg: Any,
    *,
    sent_at: datetime | None,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
    privacy: PrivacySettings = DEFAULT_PRIVACY,
    request: RequestInfo = DEFAULT_REQUEST,
    type_hint: str | None = None,
    trust_received_at: bool = False,
) -> Row | None:
    """Normalise one message to a row in COLUMNS order; None when consent drops it.

    Raises Bad naming the field when the message is invalid.
    """
    arrival = Arrival.of(sent_at=sent_at, received_at=received_at, limits=limits,
                         privacy=privacy, request=request, trust_received_at=trust_received_at)
    return arrival_row(msg, arrival, type_hint)


def _type_of(raw_type: Any) -> str:
    if not isinstance(raw_type, str) or not raw_type:
        raise Bad("type", "is required (track, page, screen, identify, group or alias)")
    typ = raw_type.lower()
    if typ not in EVENT_TYPES:
        raise Bad("type", f"unknown type {raw_type[:40]!r}; use track, page, screen, identify, group or alias")
    return typ


def _timestamp_us(msg: dict[str, Any], arrival: Arrival) -> tuple[int, int]:
    """(timestamp, received_at) of a message in microseconds, corrected with sentAt."""
    received_us = arrival.received_us
    # an archived message's clock correction needs the time it was received: without
    # its receivedAt, the import's own time would move it to the day of the import
    correct = True
    if arrival.trust_received_at:
        own_received = parse_time(msg.get("receivedAt"), "receivedAt")
        correct = own_received is not None
        if own_received is not None:
            received_us = to_us(own_received)
    # in integer microseconds: datetime arithmetic was the largest single cost of a
    # message in the collector's profile
    ts = parse_time(msg.get("timestamp"), "timestamp")
    if ts is None:
        ts = parse_time(msg.get("originalTimestamp"), "originalTimestamp")
    raw_sent = msg.get("sentAt")
    own_sent = None if raw_sent is None else parse_time(raw_sent, "sentAt")
    if ts is None:
        ts_us = received_us
    elif own_sent is not None and correct:
        ts_us = received_us - (to_us(own_sent) - to_us(ts))
    elif arrival.sent_us is not None and correct:
        ts_us = received_us - (arrival.sent_us - to_us(ts))
    else:
        ts_us = to_us(ts)
    limits = arrival.limits
    if limits.future_us is not None and ts_us > received_us + limits.future_us:
        hours = limits.max_future.total_seconds() / 3600 if limits.max_future else 0
        raise Bad("timestamp", f"is more than {hours:g} hours after the time it was received; a client "
                  "clock that is ahead is corrected when the message or batch has sentAt")
    if limits.past_us is not None and ts_us < received_us - limits.past_us:
        days = limits.max_past.total_seconds() / 86400 if limits.max_past else 0
        raise Bad("timestamp", f"is more than {days:g} days before the time it was received")
    if ts_us < _MIN_US or ts_us >= _END_US:
        raise Bad("timestamp", "is outside the years 1900-2200")
    return ts_us, received_us


def arrival_row(msg: Any, arrival: Arrival, type_hint: str | None = None) -> Row | None:
    """``message_row`` for a message of a request whose Arrival is worked out."""
    if not isinstance(msg, dict):
        raise Bad("", f"must be an object, not {_kind(msg)}")
    raw_type = type_hint or msg.get("type")
    typ = _TYPE_NAMES.get(raw_type) if type(raw_type) is str else None
    if typ is None:
        typ = _type_of(raw_type)
    ts_us, received_us = _timestamp_us(msg, arrival)

    event_id = _text(msg.get("messageId"), "messageId")
    user_id = _text(msg.get("userId"), "userId")
    anonymous_id = _text(msg.get("anonymousId"), "anonymousId")
    properties = msg.get("properties")
    if type(properties) is not dict:
        properties = _obj(properties, "properties")
    raw_ctx = msg.get("context")
    ctx = dict(raw_ctx if type(raw_ctx) is dict else _obj(raw_ctx, "context"))
    group = ctx.get("groupId")
    account_id = None if group is None else _text(group, "context.groupId")
    event: str | None = None

    if typ == "track":
        event = _text(msg.get("event"), "event", required=True)
    elif typ in ("page", "screen"):
        event = _text(msg.get("name"), "name") or _text(properties.get("name"), "properties.name")
        category = msg.get("category")
        if category is not None and "category" not in properties:
            properties = {**properties, "category": category}
    elif typ == "identify":
        traits = {**_obj(ctx.get("traits"), "context.traits"), **_obj(msg.get("traits"), "traits")}
        if traits:
            ctx["traits"] = traits
    elif typ == "group":
        account_id = _text(msg.get("groupId"), "groupId", required=True)
        traits = _obj(msg.get("traits"), "traits")
        if traits:
            properties = {**properties, **traits}
    else:  # alias
        previous = _text(msg.get("previousId"), "previousId", required=True)
        user_id = _text(msg.get("userId"), "userId", required=True)
        properties = {**properties, "previous_id": previous}
        if anonymous_id is None:
            anonymous_id = previous
    if user_id is None and anonymous_id is None:
        raise Bad("userId", "userId or anonymousId is required")

    session = ctx.pop("sessionId", None)
    session_id = None if session is None else _text(session, "context.sessionId")
    ua = ctx.pop("userAgent", None)
    if isinstance(ua, str):
        ctx["user_agent"] = ua
    page = ctx.get("page")
    if typ == "page":
        page = dict(_obj(page, "context.page"))
        for key in ("url", "path", "title", "referrer", "search"):
            if key not in page and isinstance(properties.get(key), str):
                page[key] = properties[key]
        ctx["page"] = page
    if isinstance(page, dict):
        _fill_acquisition(ctx, page)
    if not _KNOWN_TOP.issuperset(msg):  # in C; unknown top-level fields are rare
        ctx["extra"] = {k: v for k, v in msg.items() if k not in _KNOWN_TOP}
    integrations = msg.get("integrations")
    if isinstance(integrations, dict) and integrations:
        ctx["integrations"] = integrations

    if arrival.request.deny_personal or ("consent" in ctx and consent_denied(ctx)):
        if typ in ("identify", "alias", "group"):
            return None
        user_id = anonymous_id = session_id = account_id = None
        scrub_context(ctx)
        properties = scrub_properties(properties)
    elif "ip" in ctx:
        apply_ip(ctx, arrival.request.client_ip, arrival.privacy)
    elif arrival.request_ip is not None:  # the request's address, anonymised once
        ctx["ip"] = arrival.request_ip

    raw_revenue = properties.get("revenue")
    revenue = None if raw_revenue is None else _number(raw_revenue)
    if revenue is None and event == "Order Completed":
        revenue = _number(properties.get("total"))
    currency = properties.get("currency")
    currency = currency[:8] if isinstance(currency, str) and currency else None

    try:
        props_json = orjson.dumps(properties).decode()
        ctx_json = orjson.dumps(ctx).decode()
    except (orjson.JSONEncodeError, TypeError):  # say which of them
        props_json = _dumps(properties, "properties")
        ctx_json = _dumps(ctx, "context")
    size = len(props_json) + len(ctx_json)
    if size > arrival.limits.max_event_bytes:
        raise Bad("", f"event is {size} bytes, more than the limit of {arrival.limits.max_event_bytes}")
    return (
        event_id, ts_us, received_us, typ, event, anonymous_id, user_id,
        account_id, None, arrival.request.source, session_id, props_json, ctx_json, revenue, currency,
    )


def normalize_messages(
    messages: Iterable[Any],
    *,
    sent_at: datetime | None,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
    privacy: PrivacySettings = DEFAULT_PRIVACY,
    request: RequestInfo = DEFAULT_REQUEST,
    type_hint: str | None = None,
    trust_received_at: bool = False,
) -> tuple[list[Row], list[MessageError], int]:
    """Rows of the valid messages, errors of the others, and how many consent dropped."""
    arrival = Arrival.of(sent_at=sent_at, received_at=received_at, limits=limits,
                         privacy=privacy, request=request, trust_received_at=trust_received_at)
    rows: list[Row] = []
    errors: list[MessageError] = []
    dropped = 0
    for index, msg in enumerate(messages):
        try:
            row = arrival_row(msg, arrival, type_hint)
        except Bad as exc:
            errors.append(MessageError(index, exc.field, exc.reason))
            continue
        if row is None:
            dropped += 1
        else:
            rows.append(row)
    return rows, errors, dropped


def rows_to_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows in COLUMNS order -> an Arrow table with the event file columns."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    arrays = [pa.array(col, type=field.type) for col, field in zip(columns, ROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ROW_SCHEMA)


def messages_to_events(
    messages: Iterable[dict[str, Any]],
    *,
    sent_at: datetime | None,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
    privacy: PrivacySettings = DEFAULT_PRIVACY,
    trust_received_at: bool = False,
) -> tuple[pa.Table, list[MessageError]]:
    """Segment/RudderStack messages -> (event table without ``project``, errors).

    ``sent_at`` is the batch's ``sentAt`` (a message's own ``sentAt`` wins);
    ``received_at`` is when the batch arrived. Importers of archives, whose messages
    carry their own ``receivedAt``, pass ``trust_received_at=True`` and may pass
    ``limits=Limits(max_future=None)``. Messages dropped for denied consent are in
    neither the table nor the errors.
    """
    rows, errors, _ = normalize_messages(
        messages, sent_at=sent_at, received_at=received_at, limits=limits, privacy=privacy,
        trust_received_at=trust_received_at,
    )
    return rows_to_table(rows), errors
