"""The one place HTTP errors are rendered: every CxError becomes its ``to_dict()``.

Anything else is a bug: it is logged with its traceback and answered with a 500
JSON body that gives nothing away.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from cxlens.errors import CxError, ValidationError

log = logging.getLogger("cxlens.api")


class PayloadTooLarge(ValidationError):
    code = "too_large"
    status_code = 413


class UnsupportedEncoding(ValidationError):
    code = "unsupported_encoding"
    status_code = 415


class InvalidBody(ValidationError):
    code = "invalid_body"


class BatchRejected(ValidationError):
    """No message of a request was valid: 400 with every message's problem."""

    code = "rejected"

    def __init__(self, rejected: list[dict[str, object]]) -> None:
        first = rejected[0] if rejected else {"field": "", "reason": "no messages"}
        n = len(rejected)
        where, reason = str(first["field"] or "message"), str(first["reason"])
        # a reason may name its field already ("userId or anonymousId is required")
        leaf = where.rsplit(".", 1)[-1]
        said = (where.removesuffix(leaf) + reason if reason.startswith(leaf + " ")
                else f"{where} {reason}")
        super().__init__(
            f"{n} message{'s' if n != 1 else ''} rejected, none accepted; first: {said}",
            field=str(first["field"]) if first["field"] else None,
        )
        self.rejected = rejected

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        body["rejected"] = self.rejected
        return body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


async def cx_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CxError)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.request_errors.labels(exc.code).inc()
    return json_response(exc.to_dict(), exc.status_code)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"error": "internal", "message": "internal server error; see the server log"},
                         500)


COLLECTOR_PATHS = ("POST /v1/batch, /v1/track, /v1/page, /v1/identify, ... (Segment, RudderStack), "
                   "/batch/, /capture/, /e/, /i/v1/analytics/events (PostHog)")


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """The router's own 404 and 405 in the same shape as every other error (its default
    ``{"detail": "Not Found"}`` named neither the path nor the right one)."""
    assert isinstance(exc, StarletteHTTPException)
    where = f"{request.method} {request.url.path[:200]}"
    if exc.status_code == 404:
        body = {"error": "not_found", "field": "path",
                "message": f"no endpoint {where}; events go to {COLLECTOR_PATHS}, the JSON API is "
                           "under /api/v1/ (see /api/v1/openapi.json)"}
    elif exc.status_code == 405:
        body = {"error": "method_not_allowed", "field": "method",
                "message": f"{where} is not allowed; allowed: {exc.headers.get('Allow', '?') if exc.headers else '?'}"}
    else:
        body = {"error": f"http_{exc.status_code}", "message": str(exc.detail)}
    return json_response(body, exc.status_code, dict(exc.headers) if exc.headers else None)


def install(app: Starlette) -> None:
    app.add_exception_handler(CxError, cx_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, internal_error_handler)
