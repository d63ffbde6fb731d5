"""Collector endpoints: Segment / RudderStack ``/v1/*`` and PostHog capture.

The hot path reads the raw body, decodes it with orjson, normalises each message to
a row, writes the rows to the WAL (fsync, group commit) and only then answers. No
pydantic here: it cost a third of the throughput (field notes).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cxlens.api.body import basic_user, read_json
from cxlens.api.errors import BatchRejected, InvalidBody, PayloadTooLarge, json_response
from cxlens.api.metrics import Metrics
from cxlens.errors import AuthError
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
from cxlens.ingest.wal import Drainer, DrainStats, GroupCommit, SegmentLog, encode_record, table_for
from cxlens.store.catalog import Catalog
from cxlens.store.keys import ProjectInfo, write_keys
from cxlens.store.workspace import Workspace
from cxlens.surveys.answers import after_append

log = logging.getLogger("cxlens.collector")
SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
CORS = {"Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "Content-Type, Authorization, Content-Encoding",
        "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Max-Age": "86400"}


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    max_body_bytes: int = 500 * 1024
    max_event_bytes: int = 32 * 1024
    max_batch_events: int = 2500
    max_future_hours: float = 24.0
    max_past_days: float | None = None
    drain_interval: float = 0.5
    fsync: bool = True

    @property
    def limits(self) -> Limits:
        past = timedelta(days=self.max_past_days) if self.max_past_days else None
        return Limits(self.max_event_bytes, timedelta(hours=self.max_future_hours), past)


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
    _ws: Workspace = field(init=False)

    def __post_init__(self) -> None:
        self._ws = Workspace.open(self.workspace)
        # the writer shares the cores with the request path; a single DuckDB thread keeps
        # it from starving the event loops (it batches more when it falls behind)
        self._ws.con.execute("SET threads = 1")
        self._ws.con.execute("SET memory_limit = '512MB'")
        self.keys = KeyCache(self._ws.catalog.path)
        self.wal = SegmentLog(self._ws.root / "wal", fsync=self.config.fsync)
        self.commit = GroupCommit(self.wal)
        self.drainer = Drainer(self.wal, self._append, interval=self.config.drain_interval,
                               on_drain=self._drained)
        self.metrics.bind_wal(self.wal.oldest_pending_age,
                              lambda: float(len(self.wal.closed_segments())),
                              lambda: float(self.drainer.errors))

    def _append(self, project: str, rows: list[list[Any]]) -> int:
        table = table_for(rows)
        res = self._ws.append(table, source="collector", project=project, kind="collector")
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
        self.keys.close()
        self._ws.close()

    def health(self) -> dict[str, object]:
        return {"wal_lag_seconds": round(self.wal.oldest_pending_age(), 3),
                "wal_pending_segments": len(self.wal.closed_segments()),
                "writer_alive": self.drainer.is_alive(), "writer_errors": self.drainer.errors,
                "wal_quarantined_segments": self.drainer.quarantined}

    async def store(self, project: str, rows: list[Row]) -> None:
        if rows:
            await self.commit.append(encode_record(project, rows))

    def request_info(self, request: Request, privacy: PrivacySettings, source: str) -> RequestInfo:
        h = request.headers
        deny = h.get("x-cx-consent", "").lower() == "denied" or (
            privacy.honor_dnt and (h.get("dnt") == "1" or h.get("sec-gpc") == "1"))
        client = request.client.host if request.client else None
        return RequestInfo(client_ip=client, deny_personal=deny, source=source)

    def account(self, api: str, total: int, rows: int, errors: list[MessageError],
                dropped: int) -> None:
        m = self.metrics
        m.received.labels(api).inc(total)
        m.accepted.labels(api).inc(rows)
        if dropped:
            m.consent_dropped.inc(dropped)
        for e in errors:
            m.rejected.labels(e.field or "message").inc()


def _collector(request: Request) -> Collector:
    c: Collector = request.app.state.collector
    return c


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
async def segment_endpoint(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    c = _collector(request)
    kind = request.url.path.rsplit("/", 1)[-1]
    body = await read_json(request, c.config.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object", field="body")
    key = basic_user(request.headers.get("authorization")) or body.get("writeKey")
    project, privacy = c.keys.lookup(key)
    sent_at = _sent_at(body.get("sentAt"), "sentAt")
    if kind in ("batch", "import"):
        messages = _batch_list(body.get("batch"), "batch", c.config.max_batch_events)
        type_hint = None
        prefix = "batch["
    else:
        messages = [body]
        type_hint = kind
        prefix = ""
    info = c.request_info(request, privacy, "segment")
    received = datetime.now(UTC)
    rows, errors, dropped = normalize_messages(
        messages, sent_at=sent_at, received_at=received, limits=c.config.limits,
        privacy=privacy, request=info, type_hint=type_hint)
    c.account("segment", len(messages), len(rows), errors, dropped)
    await c.store(project, rows)
    return json_response(_result(len(rows), errors, dropped, prefix), headers=CORS)


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


async def posthog_endpoint(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    c = _collector(request)
    body = await read_json(request, c.config.max_body_bytes)
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
        basic_user(request.headers.get("authorization")) or _posthog_key(body, events))
    rows, errors, dropped = await _posthog_rows(c, request, project, privacy, events, sent_raw)
    return json_response({"status": 1, **_result(len(rows), errors, dropped, prefix)},
                         headers=CORS)


async def _posthog_rows(c: Collector, request: Request, project: str, privacy: PrivacySettings,
                        events: list[Any], sent_raw: Any) -> tuple[list[Row], list[MessageError], int]:
    sent_at = _sent_at(sent_raw, "sent_at")
    info = c.request_info(request, privacy, "posthog")
    rows, errors, dropped, _ = normalize_posthog(
        events, sent_at=sent_at, received_at=datetime.now(UTC), limits=c.config.limits,
        privacy=privacy, request=info, sdk_info=request.headers.get("posthog-sdk-info"))
    c.account("posthog", len(events), len(rows), errors, dropped)
    await c.store(project, rows)
    return rows, errors, dropped


async def posthog_v1_endpoint(request: Request) -> Response:
    """``/i/v1/analytics/events``: Bearer key, per-event ``results`` the SDK reads."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=CORS)
    c = _collector(request)
    project, privacy = c.keys.lookup(basic_user(request.headers.get("authorization")))
    body = await read_json(request, c.config.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidBody("body must be a JSON object with 'batch'", field="body")
    events = _batch_list(body.get("batch"), "batch", c.config.max_batch_events)
    rows, errors, dropped = await _posthog_rows(
        c, request, project, privacy, events, request.headers.get("posthog-request-timestamp"))
    bad = {e.index for e in errors}
    results: dict[str, dict[str, str]] = {}
    for index, ev in enumerate(events):
        uid = ev.get("uuid") if isinstance(ev, dict) else None
        if isinstance(uid, str):
            results[uid] = {"result": "drop" if index in bad else "ok"}
    return json_response({"results": results, **_result(len(rows), errors, dropped, "batch[")},
                         headers=CORS)


def routes() -> list[Route]:
    methods = ["POST", "OPTIONS"]
    out = [Route("/v1/batch", segment_endpoint, methods=methods),
           Route("/v1/import", segment_endpoint, methods=methods)]
    out += [Route(f"/v1/{kind}", segment_endpoint, methods=methods) for kind in SEGMENT_TYPES]
    for path in ("/batch", "/capture", "/e", "/track", "/engage"):
        out.append(Route(path, posthog_endpoint, methods=methods))
        out.append(Route(path + "/", posthog_endpoint, methods=methods))
    out.append(Route("/i/v1/analytics/events", posthog_v1_endpoint, methods=methods))
    return out
