"""Prometheus metrics of one server process, and the /metrics and /healthz endpoints.

Each app gets its own registry (tests run several apps in one process). With
``--workers N`` every worker answers for itself; scrape them through one port and
Prometheus sees one worker per scrape, so rates are per worker there (documented).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from cxlens.api.errors import json_response


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("cxlens_events_received", "Events in requests with a valid key",
                                ["api"], registry=r)
        self.accepted = Counter("cxlens_events_accepted", "Events durable in the WAL (acknowledged)",
                                ["api"], registry=r)
        self.rejected = Counter("cxlens_events_rejected", "Events rejected, by field",
                                ["field"], registry=r)
        self.consent_dropped = Counter("cxlens_events_consent_dropped",
                                       "Personal-only events dropped for denied consent", registry=r)
        self.request_errors = Counter("cxlens_request_errors", "Requests answered with an error",
                                      ["code"], registry=r)
        self.wal_lag = Gauge("cxlens_wal_lag_seconds",
                             "Age of the oldest acknowledged event not yet in the workspace",
                             registry=r)
        self.wal_segments = Gauge("cxlens_wal_pending_segments",
                                  "Closed WAL segments waiting for the writer", registry=r)
        self.writer_latency = Histogram(
            "cxlens_writer_batch_seconds", "Time to move WAL segments into the workspace",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.writer_rows = Counter("cxlens_writer_rows", "Rows moved from the WAL to the workspace",
                                   registry=r)
        self.writer_inserted = Counter("cxlens_writer_inserted",
                                       "Rows inserted (not duplicates)", registry=r)
        self.writer_errors = Gauge("cxlens_writer_errors", "Failed drain attempts", registry=r)

    def bind_wal(self, lag: Callable[[], float], pending: Callable[[], float],
                 errors: Callable[[], float]) -> None:
        self.wal_lag.set_function(lag)
        self.wal_segments.set_function(pending)
        self.writer_errors.set_function(errors)


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    collector = getattr(request.app.state, "collector", None)
    body: dict[str, object] = {"status": "ok"}
    if collector is not None:
        body.update(collector.health())
    return json_response(body)
