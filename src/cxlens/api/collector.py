"""Collector endpoints: Segment / RudderStack ``/v1/*`` and PostHog capture.

The hot path reads the raw body, decodes it with orjson, normalises each message to
a row, writes the rows to the WAL (fsync, group commit) and only then answers. No
pydantic and no Starlette request objects here: the handlers are plain functions of
(``Collector``, ``Incoming``) served by the raw-ASGI fast path in ``ingest_asgi``.

Batch rule: valid messages are stored and invalid ones reported: 200 with
``{"success": true, "accepted": n, "dropped": d, "rejected": [{index, field, reason}]}``;
400 (``BatchRejected``) only when not one message was valid. Request-level problems
(no key, bad JSON, too large, ...) are 4xx before anything is stored.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from cxlens.api.body import basic_user, decode_body
from cxlens.api.errors import BatchRejected, InvalidBody, PayloadTooLarge
from cxlens.api.metrics import Metrics
from cxlens.errors import AuthError
from cxlens.ingest.channel_cache import ChannelCache
from cxlens.ingest.posthog import normalize_posthog
from cxlens.ingest.privacy import PrivacySettings
from cxlens.ingest.segment import (
    Bad,
    Limits,
    MessageError,
    RequestInfo,
    Row,
    normalize_messages,
    parse_time,
)
from cxlens.ingest.wal import (
    Drainer,
    DrainStats,
    GroupCommit,
    SegmentLog,
)
from cxlens.store.catalog import Catalog
from cxlens.store.keys import SECRET_PREFIX, WRITE_PREFIX, ProjectInfo, write_keys
from cxlens.store.workspace import Workspace
from cxlens.surveys.answers import after_append

log = logging.getLogger("cxlens.collector")
SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
        "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Max-Age": "86400"}


@dataclass(slots=True)
class Incoming:
    """What the handlers need of an HTTP request (built by ``ingest_asgi``)."""

    path: str
    #: lower-case names; only the headers the collector reads
    headers: dict[str, str]
    query: dict[str, str]
    client_ip: str | None
    body: bytes

    def json(self, limit: int) -> Any:
        h = self.headers
        return decode_body(self.body, h.get("content-encoding"), h.get("content-type"),
                           self.query, limit)


@dataclass(slots=True)
class Outcome:
    """A handler's result: rows to make durable for ``project``, then ``body`` (200)."""

    project: str
    rows: list[Row]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    max_body_bytes: int = 500 * 1024
    max_event_bytes: int = 32 * 1024
    max_batch_events: int = 2500
    max_future_hours: float = 24.0
    max_past_days: float | None = None
    drain_interval: float = 0.5
    fsync: bool = True
    #: under concurrent load, WAL commit groups start at least this far apart (seconds)
    commit_spacing: float = 0.002

    @property
    def limits(self) -> Limits:
        past = timedelta(days=self.max_past_days) if self.max_past_days else None
        return Limits(self.max_event_bytes, timedelta(hours=self.max_future_hours), past)


#: /healthz calls the collector degraded once the oldest WAL segment waits this long
WAL_LAG_DEGRADED_SECONDS = 60.0


def health_problems(wal_lag_seconds: float, writer_alive: bool, quarantined: int) -> list[str]:
    """What /healthz reports as wrong. Each of these leaves ingestion working (events
    are still acknowledged durably into the WAL), so the answer stays 200 for load
    balancers; monitoring should alert on ``status`` other than ``ok``."""
    problems = []
    if not writer_alive:
        problems.append("the WAL writer of this process is not running: events are kept in "
                        "the WAL but do not reach the workspace; restart cxlens serve")
    if quarantined:
        problems.append(f"{quarantined} WAL segment(s) could not be appended and were moved to "
                        "wal/quarantine/ (see the error log; docs/collector.md says how to retry)")
    if wal_lag_seconds > WAL_LAG_DEGRADED_SECONDS:
        problems.append(f"the WAL writer is {wal_lag_seconds:.0f} s behind: events become "
                        "queryable late (the machine cannot keep up with the load)")
    return problems


class KeyCache:
    """Write key -> project, reloaded from the catalog on a miss (at most once a second)
    and every 10 s, so new projects and changed settings arrive without a restart."""

    def __init__(self, catalog_path: Path) -> None:
        self._catalog = Catalog(catalog_path)
        self._keys: dict[str, ProjectInfo] = {}
        self._privacy: dict[str, PrivacySettings] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        keys = write_keys(self._catalog)
        self._privacy = {p.project: PrivacySettings.from_settings(p.settings) for p in keys.values()}
        self._keys = keys
        self._loaded = time.monotonic()

    def lookup(self, key: str | None) -> tuple[str, PrivacySettings]:
        if not key or not isinstance(key, str):
            raise AuthError("no write key: send it as the HTTP Basic user name, a Bearer token, "
                            "or 'writeKey'/'api_key' in the body", field="writeKey")
        age = time.monotonic() - self._loaded
        info = self._keys.get(key)
        if (info is None and age > 1.0) or age > 10.0:
            with self._lock:
                self.reload()
            info = self._keys.get(key)
        if info is None:
            if key.startswith(SECRET_PREFIX):
                raise AuthError(f"that is a secret key ({SECRET_PREFIX}...): it reads, it never ingests; "
                                f"send the project's write key ({WRITE_PREFIX}...), shown by: "
                                "cxlens project list", field="writeKey")
            raise AuthError("unknown write key; see the keys with: cxlens project list",
                            field="writeKey")
        return info.project, self._privacy[info.project]

    def close(self) -> None:
        self._catalog.close()


@dataclass(slots=True)
class Collector:
    """Per-process collector state: keys, WAL, drainer and metrics."""

    workspace: Path
    config: CollectorConfig
    metrics: Metrics
    keys: KeyCache = field(init=False)
    wal: SegmentLog = field(init=False)
    commit: GroupCommit = field(init=False)
    drainer: Drainer = field(init=False)
    limits: Limits = field(init=False)
    _ws: Workspace = field(init=False)
    #: the drainer's: channels classified once per distinct input, across rounds
    _channels: ChannelCache = field(init=False)
    #: prometheus counter (child) -> increments not yet published (see publish_metrics)
    _tally: Counter[Any] = field(init=False, default_factory=Counter)

    def __post_init__(self) -> None:
        self.limits = self.config.limits
        self._ws = Workspace.open(self.workspace)
        # the writer shares the cores with the request path; a single DuckDB thread keeps
        # it from starving the event loops (it batches more when it falls behind)
        self._ws.con.execute("SET threads = 1")
        self._ws.con.execute("SET memory_limit = '512MB'")
        self._channels = ChannelCache()
        self.keys = KeyCache(self._ws.catalog.path)
        self.wal = SegmentLog(self._ws.root / "wal", fsync=self.config.fsync)
        self.commit = GroupCommit(self.wal, spacing=self.config.commit_spacing,
                                  on_durable=self.publish_metrics)
        self.drainer = Drainer(self.wal, self._append, interval=self.config.drain_interval,
                               on_drain=self._drained, on_round=self.metrics.refresh)
        self.metrics.bind_wal(self.wal.oldest_pending_age,
                              lambda: float(len(self.wal.closed_segments())),
                              lambda: float(self.drainer.errors))

    def _append(self, project: str, table: pa.Table) -> int:
        # the drainer thread is the only user of this workspace's connection
        try:
            channels = self._channels.channels(self._ws.con, table)
        except duckdb.Error:  # e.g. a context that is no JSON: the append's SQL decides
            log.exception("classifying the channels of a drain round failed; the append will")
            channels = None
        if channels is not None:
            table = table.set_column(table.schema.get_field_index("channel"), "channel", channels)
        res = self._ws.append(table, source="collector", project=project, kind="collector",
                              channels_classified=channels is not None)
        # survey answers among them become feedback (never holds up the events)
        after_append(self._ws, project, table)
        return res.inserted

    def _drained(self, stats: DrainStats) -> None:
        self.metrics.writer_latency.observe(stats.seconds)
        self.metrics.writer_rows.inc(stats.rows)
        self.metrics.writer_inserted.inc(stats.inserted)
        log.info("drained WAL", extra={"segments": stats.segments, "rows": stats.rows,
                                       "inserted": stats.inserted, "seconds": round(stats.seconds, 4)})

    async def start(self) -> None:
        # replay what dead writers left before taking traffic
        await asyncio.to_thread(self.drainer.drain_once)
        self.drainer.start()

    async def stop(self) -> None:
        """Graceful shutdown: everything acknowledged goes into the workspace."""
        self.commit.close()
        await asyncio.to_thread(self.drainer.stop)
        self.wal.close()
        self.wal.remove()
        self.metrics.close()
        self.keys.close()
        self._ws.close()

    def health(self) -> dict[str, object]:
        lag = round(self.wal.oldest_pending_age(), 3)
        alive = self.drainer.is_alive()
        problems = health_problems(lag, alive, self.drainer.quarantined)
        return {"status": "degraded" if problems else "ok", "problems": problems,
                "wal_lag_seconds": lag,
                "wal_pending_segments": len(self.wal.closed_segments()),
                "writer_alive": alive, "writer_errors": self.drainer.errors,
                "wal_quarantined_segments": self.drainer.quarantined}

    async def store(self, project: str, rows: list[Row]) -> None:
        """Make ``rows`` durable; the request's metrics are published with them."""
        if rows:
            await self.commit.append(project, rows)
        else:
            self.publish_metrics()

    def request_info(self, req: Incoming, privacy: PrivacySettings, source: str) -> RequestInfo:
        h = req.headers
        deny = h.get("x-cx-consent", "").lower() == "denied" or (
            privacy.honor_dnt and (h.get("dnt") == "1" or h.get("sec-gpc") == "1"))
        return RequestInfo(client_ip=req.client_ip, deny_personal=deny, source=source)

    def account(self, api: str, total: int, rows: int, errors: list[MessageError],
                dropped: int) -> None:
        """Count a request's events; they reach /metrics with ``publish_metrics``."""
        m = self.metrics
        received, accepted = m.per_api(api)
        tally = self._tally
        tally[received] += total
        tally[accepted] += rows
        if dropped:
            tally[m.consent_dropped] += dropped
        for e in errors:
            tally[m.rejected.labels(e.field or "message")] += 1

    def publish_metrics(self) -> None:
        """Add the counts of the requests since the last call to the Prometheus counters.
        Called once per WAL commit group, before its requests are answered, and by a
        request that stores nothing: with ``--workers N`` an increment writes a
        memory-mapped file (~1.2 us), twice per request when each request did it."""
        tally, self._tally = self._tally, Counter()
        for counter, amount in tally.items():
            if amount:
                counter.inc(amount)


def _sent_at(value: Any, name: str) -> datetime | None:
    try:
        return parse_time(value, name)
    except Bad as exc:
        raise InvalidBody(f"{exc.field} {exc.reason}", field=exc.field) from None


def _batch_list(value: Any, name: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidBody(f"'{name}' must be an array of messages", field=name)
    if len(value) > limit:
        raise PayloadTooLarge(f"'{name}' has {len(value)} messages, more than the limit of {limit}",
                              field=name)
    return value


def _result(rows: int, errors: list[MessageError], dropped: int, prefix: str) -> dict[str, Any]:
    """The batch rule: 200 body for partly valid input, BatchRejected when none is valid."""
    rejected: list[dict[str, object]] = [
        {"index": e.index,
         "field": (f"{prefix}{e.index}]{'.' if e.field else ''}{e.field}" if prefix else e.field),
         "reason": e.reason}
        for e in errors
    ]
    if errors and not rows and not dropped:
        raise BatchRejected(rejected)
    return {"success": True, "accepted": rows, "dropped": dropped, "rejected": rejected}


# -- Segment / RudderStack -------------------------------------------------------------
def segment_batch(c: Collector, req: Incoming) -> Outcome:
    """Segment / RudderStack batch (`/v1/batch`, `/v1/import`)

    `{"batch": [message, ...], "sentAt"}`; the write key as HTTP Basic user name or
    `writeKey` in the body. Answers `{"success", "accepted", "dropped", "rejected"}`.
    """
    return _segment(c, req, None)


def segment_single(c: Collector, req: Incoming) -> Outcome:
    """One Segment message (`/v1/track`, `/v1/page`, ...): the path sets its type

    The write key as HTTP Basic user name or `writeKey` in the body.
    """
    return _segment(c, req, req.path.rsplit("/", 1)[-1])


def _segment(c: Collector, req: Incoming, kind: str | None) -> Outcome:
    body = req.json(c.config.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object", field="body")
    key = basic_user(req.headers.get("authorization")) or body.get("writeKey")
    project, privacy = c.keys.lookup(key)
    sent_at = _sent_at(body.get("sentAt"), "sentAt")
    if kind is None:
        messages = _batch_list(body.get("batch"), "batch", c.config.max_batch_events)
        prefix = "batch["
    else:
        messages = [body]
        prefix = ""
    info = c.request_info(req, privacy, "segment")
    rows, errors, dropped = normalize_messages(
        messages, sent_at=sent_at, received_at=datetime.now(UTC), limits=c.limits,
        privacy=privacy, request=info, type_hint=kind)
    c.account("segment", len(messages), len(rows), errors, dropped)
    return Outcome(project, rows, _result(len(rows), errors, dropped, prefix))


# -- PostHog ---------------------------------------------------------------------------
def _posthog_key(body: Any, events: list[Any]) -> Any:
    if isinstance(body, dict):
        for name in ("api_key", "token"):
            if body.get(name):
                return body[name]
    for ev in events[:1]:
        if isinstance(ev, dict):
            props = ev.get("properties")
            key = ev.get("api_key") or (props.get("token") if isinstance(props, dict) else None)
            if key:
                return key
    return None


def posthog_capture(c: Collector, req: Incoming) -> Outcome:
    """PostHog capture (`/batch/`, `/capture/`, `/e/`, `/track/`, `/engage/`)

    `{"api_key", "batch": [...]}`, one event, or a list of events; JSON, gzip-js, or
    posthog-js' form-encoded `data=` (base64 or lz64). Answers `{"status": 1, ...}`.
    """
    body = req.json(c.config.max_body_bytes)
    if isinstance(body, list):
        events, sent_raw, prefix = body, None, "["
    elif isinstance(body, dict) and "batch" in body:
        events, sent_raw, prefix = body["batch"], body.get("sent_at"), "batch["
    elif isinstance(body, dict):
        events, sent_raw, prefix = [body], body.get("sent_at"), ""
    else:
        raise InvalidBody("body must be a JSON object or array", field="body")
    events = _batch_list(events, "batch", c.config.max_batch_events)
    project, privacy = c.keys.lookup(
        basic_user(req.headers.get("authorization")) or _posthog_key(body, events))
    rows, errors, dropped = _posthog_rows(c, req, privacy, events, sent_raw)
    return Outcome(project, rows, {"status": 1, **_result(len(rows), errors, dropped, prefix)})


def _posthog_rows(c: Collector, req: Incoming, privacy: PrivacySettings, events: list[Any],
                  sent_raw: Any) -> tuple[list[Row], list[MessageError], int]:
    sent_at = _sent_at(sent_raw, "sent_at")
    info = c.request_info(req, privacy, "posthog")
    rows, errors, dropped, _ = normalize_posthog(
        events, sent_at=sent_at, received_at=datetime.now(UTC), limits=c.limits,
        privacy=privacy, request=info, sdk_info=req.headers.get("posthog-sdk-info"))
    c.account("posthog", len(events), len(rows), errors, dropped)
    return rows, errors, dropped


def posthog_v1(c: Collector, req: Incoming) -> Outcome:
    """PostHog capture v1 (`capture_mode="v1"`)

    `Authorization: Bearer KEY`, `{"batch": [...]}`; answers per-event
    `{"results": {uuid: {"result": "ok" | "drop"}}}`, which the SDK reads to retry.
    """
    project, privacy = c.keys.lookup(basic_user(req.headers.get("authorization")))
    body = req.json(c.config.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object with 'batch'", field="body")
    events = _batch_list(body.get("batch"), "batch", c.config.max_batch_events)
    rows, errors, dropped = _posthog_rows(
        c, req, privacy, events, req.headers.get("posthog-request-timestamp"))
    bad = {e.index for e in errors}
    results: dict[str, dict[str, str]] = {}
    for index, ev in enumerate(events):
        uid = ev.get("uuid") if isinstance(ev, dict) else None
        if isinstance(uid, str):
            results[uid] = {"result": "drop" if index in bad else "ok"}
    return Outcome(project, rows,
                   {"results": results, **_result(len(rows), errors, dropped, "batch[")})


Handler = Callable[[Collector, Incoming], Outcome]


def _routes() -> dict[str, Handler]:
    out: dict[str, Handler] = {"/v1/batch": segment_batch, "/v1/import": segment_batch}
    out.update({f"/v1/{kind}": segment_single for kind in SEGMENT_TYPES})
    for path in ("/batch", "/capture", "/e", "/track", "/engage"):
        out[path] = out[path + "/"] = posthog_capture
    out["/i/v1/analytics/events"] = posthog_v1
    return out


#: exact path -> handler; served by ``cxlens.api.ingest_asgi`` before FastAPI routing
INGEST_ROUTES: dict[str, Handler] = _routes()
