"""The ASGI app factory: ``create_app(workspace_path)``.

One FastAPI app so that the JSON API (``/api/v1``, with its OpenAPI schema) and the
dashboard can be added as routers later; the collector's ingest routes are served by
a raw-ASGI fast path in front of FastAPI (``cxlens.api.ingest_asgi``) and only
declared on the app for the OpenAPI schema.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cxlens.api import errors
from cxlens.api.analyses import router as analyses_router
from cxlens.api.collector import Collector, CollectorConfig
from cxlens.api.ingest_asgi import CxFastAPI, declare_routes
from cxlens.api.metrics import Metrics, healthz, metrics_endpoint
from cxlens.api.profiles import router as profiles_router
from cxlens.store.workspace import Workspace

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
ENV_CONFIG = "CXLENS_COLLECTOR_CONFIG"


async def cx_js(request: Request) -> Response:
    body = (STATIC / "cx.js").read_bytes()
    return Response(body, media_type="application/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600",
                             "Access-Control-Allow-Origin": "*"})


def create_app(workspace_path: str | os.PathLike[str], config: CollectorConfig | None = None) -> FastAPI:
    """The cxlens server for one workspace; the collector starts with the app's lifespan."""
    root = Workspace.open(workspace_path).root  # fail early with a clear message
    cfg = config or CollectorConfig()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        collector = Collector(root, cfg, metrics)
        await collector.start()
        app.state.collector = collector
        _tune_gc()
        try:
            yield
        finally:
            await collector.stop()

    app = CxFastAPI(title="cxlens", version="0.1.0", lifespan=lifespan, openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None)
    app.state.metrics = metrics
    app.state.workspace = root
    errors.install(app)
    app.include_router(profiles_router)
    app.include_router(analyses_router)
    from cxlens.api.personas import router as personas_router

    app.include_router(personas_router)
    from cxlens.api.voice import router as voice_router

    app.include_router(voice_router)
    declare_routes(app)  # in the schema; requests are served by CxFastAPI's fast path
    app.router.routes.append(Route("/healthz", healthz, methods=["GET"]))
    app.router.routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    app.router.routes.append(Route("/cx.js", cx_js, methods=["GET"]))
    from cxlens.api.surveys import routes as survey_routes

    app.router.routes.extend(survey_routes())  # /v1/surveys, /cx-survey.js, /s/<token>
    from cxlens.web.pages import install as install_dashboard

    install_dashboard(app, root)  # the dashboard at / (login, pages, report schedules)
    return app


def _tune_gc() -> None:
    """Every decoded request body and WAL drain round allocates thousands of containers,
    so the cyclic GC runs constantly, and each full collection walked the whole heap
    (FastAPI, pandas, DuckDB, pyarrow: ~1M long-lived objects): in the collector's
    profile GC time was a third of the WAL writer's CPU. Freezing what startup loaded
    takes it out of every collection; a larger first generation runs them less often
    (the garbage is acyclic and freed by reference counting anyway)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def config_to_env(config: CollectorConfig) -> str:
    return orjson.dumps(asdict(config)).decode()


def config_from_env() -> CollectorConfig:
    raw: dict[str, Any] = orjson.loads(os.environ.get(ENV_CONFIG, "{}"))
    names = {f.name for f in fields(CollectorConfig)}
    return CollectorConfig(**{k: v for k, v in raw.items() if k in names})


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each ``--workers`` process calls it)."""
    return create_app(os.environ["CXLENS_WORKSPACE"], config_from_env())
