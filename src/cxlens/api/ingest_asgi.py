"""The collector's ingest routes as a raw-ASGI fast path in front of FastAPI.

Every ingest request used to pass FastAPI's and Starlette's middleware stack (error,
telemetry, body-limit, exit-stack and exception middleware), the router, a ``Request``
and a ``Response`` object: on the 2-core box that was most of a single-event request.
``CxFastAPI.__call__`` looks the path up in one dict and, for the ingest routes, reads
the body, runs the handler and sends the answer itself; everything else (API,
dashboard, /healthz, /metrics, OpenAPI) goes through FastAPI as before. The ingest
routes are still declared on the FastAPI app (``declare_routes``) so that they are in
the OpenAPI schema, but requests never reach those declarations.

Errors are rendered exactly like ``cxlens.api.errors``: a CxError becomes its
``to_dict()`` with its status, anything else is logged and answered with a 500 that
gives nothing away.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI

from cxlens.api.collector import (
    CORS,
    INGEST_ROUTES,
    Collector,
    Handler,
    Incoming,
)
from cxlens.api.errors import PayloadTooLarge
from cxlens.errors import CxError

log = logging.getLogger("cxlens.collector")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: request headers the handlers read (everything else is skipped while scanning)
WANTED: Final = frozenset({
    b"authorization", b"content-length", b"content-encoding", b"content-type", b"x-cx-consent",
    b"dnt", b"sec-gpc", b"posthog-sdk-info", b"posthog-request-timestamp",
})
#: the preflight's headers (Allow-Headers, -Methods, Max-Age) are only read on the OPTIONS
#: answer; an actual response needs only Allow-Origin (Fetch standard, "CORS check"), and
#: uvicorn checks every header of every response with two regular expressions
_JSON_HEADERS: Final = [(b"content-type", b"application/json"),
                        (b"access-control-allow-origin", CORS["Access-Control-Allow-Origin"].encode())]
_NO_CONTENT: Final = {"type": "http.response.start", "status": 204,
                      "headers": [(k.lower().encode(), v.encode()) for k, v in CORS.items()]}
_EMPTY: Final = {"type": "http.response.body", "body": b""}


class ClientGone(Exception):
    """The client disconnected before its body arrived; nothing to answer."""


async def read_body(receive: Receive, limit: int, declared: str | None) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes, more than the limit of {limit}",
                              field="body")
    message = await receive()
    if message["type"] != "http.request":
        raise ClientGone
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: one chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is more than the limit of {limit} bytes",
                                  field="body")
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is more than the limit of {limit} bytes",
                                  field="body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def ingest(collector: Collector | None, handler: Handler, scope: Scope, receive: Receive,
                 send: Send) -> None:
    """Serve one ingest request: body -> handler -> WAL (durable) -> answer."""
    method = scope["method"]
    if method == "OPTIONS":
        await send(_NO_CONTENT)
        await send(_EMPTY)
        return
    try:
        if method != "POST":
            raise _MethodNotAllowed(method)
        if collector is None:
            raise _NotRunning()
        headers = {k.decode("latin-1"): v.decode("latin-1")
                   for k, v in scope["headers"] if k in WANTED}
        qs: bytes = scope.get("query_string", b"")
        query = dict(parse_qsl(qs.decode("latin-1"))) if qs else {}
        client = scope.get("client")
        body = await read_body(receive, collector.config.max_body_bytes,
                               headers.get("content-length"))
        incoming = Incoming(scope["path"], headers, query, client[0] if client else None, body)
        outcome = handler(collector, incoming)
        await collector.store(outcome.project, outcome.rows)
        await _answer(send, 200, orjson.dumps(outcome.body))
    except ClientGone:
        return
    except CxError as exc:
        if collector is not None:
            collector.publish_metrics()
            collector.metrics.request_errors.labels(exc.code).inc()
        await _answer(send, exc.status_code, orjson.dumps(exc.to_dict()))
    except Exception:
        log.exception("unhandled error on %s %s", method, scope.get("path"))
        await _answer(send, 500, b'{"error":"internal","message":"internal server error; '
                                 b'see the server log"}')


class _MethodNotAllowed(CxError):
    code = "method_not_allowed"
    status_code = 405

    def __init__(self, method: str) -> None:
        super().__init__(f"{method[:10]} is not allowed here; send events with POST",
                         field="method")


class _NotRunning(CxError):
    code = "collector_not_running"
    status_code = 503

    def __init__(self) -> None:
        super().__init__("the collector is not running in this app; start it with: cxlens serve")


class CxFastAPI(FastAPI):
    """FastAPI with the collector's ingest routes served before its middleware stack."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = INGEST_ROUTES.get(scope["path"])
            if handler is not None:
                collector: Collector | None = getattr(self.state, "collector", None)
                await ingest(collector, handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def declare_routes(app: FastAPI) -> None:
    """The ingest routes in the OpenAPI schema (served by the fast path above)."""
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    for path, handler in INGEST_ROUTES.items():
        if path.endswith("/") and path != "/":
            continue  # the variants with a trailing slash are the same endpoint
        doc = (handler.__doc__ or "").strip().splitlines()
        app.add_api_route(path, _unreachable, methods=["POST"], tags=["collector"],
                          summary=doc[0] if doc else path, description="\n".join(doc[1:]),
                          openapi_extra={"requestBody": body}, name=f"ingest {path}")


async def _unreachable() -> None:  # pragma: no cover - the fast path answers first
    raise _NotRunning()
