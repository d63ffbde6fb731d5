"""Prometheus metrics of the server, and the /metrics and /healthz endpoints.

Each app gets its own registry (tests run several apps in one process). With
``--workers N`` (``cxlens serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` to a fresh
directory) prometheus_client's multiprocess mode is used: every worker writes its
values to memory-mapped files there and a scrape, whichever worker answers it, sums
the counters and histograms of all workers (also of workers that have exited, so
totals never go back), takes the maximum WAL lag of the live workers and the sum of
their pending segments and writer errors. The gauges are refreshed by each worker's
WAL drainer at least every 5 s and by the worker that answers the scrape.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from cxlens.api.errors import json_response

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.multiprocess = multiprocess_dir() is not None
        self._lag: Callable[[], float] | None = None
        self._pending: Callable[[], float] | None = None
        self._errors: Callable[[], float] | None = None
        self._per_api: dict[str, tuple[Any, Any]] = {}
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
                             registry=r, multiprocess_mode="livemax")
        self.wal_segments = Gauge("cxlens_wal_pending_segments",
                                  "Closed WAL segments waiting for the writer", registry=r,
                                  multiprocess_mode="livesum")
        self.writer_latency = Histogram(
            "cxlens_writer_batch_seconds", "Time to move WAL segments into the workspace",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.writer_rows = Counter("cxlens_writer_rows", "Rows moved from the WAL to the workspace",
                                   registry=r)
        self.writer_inserted = Counter("cxlens_writer_inserted",
                                       "Rows inserted (not duplicates)", registry=r)
        self.writer_errors = Gauge("cxlens_writer_errors", "Failed drain attempts", registry=r,
                                   multiprocess_mode="livesum")

    def per_api(self, api: str) -> tuple[Any, Any]:
        """The received and accepted counters of ``api`` (looked up once, not per request)."""
        pair = self._per_api.get(api)
        if pair is None:
            pair = self._per_api[api] = (self.received.labels(api), self.accepted.labels(api))
        return pair

    def bind_wal(self, lag: Callable[[], float], pending: Callable[[], float],
                 errors: Callable[[], float]) -> None:
        if self.multiprocess:  # values live in files: set them on every refresh
            self._lag, self._pending, self._errors = lag, pending, errors
            self.refresh()
            return
        self.wal_lag.set_function(lag)
        self.wal_segments.set_function(pending)
        self.writer_errors.set_function(errors)

    def refresh(self) -> None:
        """Write this worker's gauges (multiprocess mode; a no-op otherwise)."""
        if self._lag is not None and self._pending is not None and self._errors is not None:
            self.wal_lag.set(self._lag())
            self.wal_segments.set(self._pending())
            self.writer_errors.set(self._errors())

    def exposition(self) -> bytes:
        path = multiprocess_dir()
        if not self.multiprocess or path is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        self.refresh()
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def close(self) -> None:
        """A worker that stops takes its gauges out of the live ones."""
        path = multiprocess_dir()
        if self.multiprocess and path is not None:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    collector = getattr(request.app.state, "collector", None)
    body: dict[str, object] = {"status": "ok", "problems": []}
    if collector is not None:  # its status says "degraded" and why when its writer is in trouble
        body.update(collector.health())
    return json_response(body)
