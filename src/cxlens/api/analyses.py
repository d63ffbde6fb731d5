"""``/api/v1/funnels``, ``/paths``, ``/graph``, ``/retention``, ``/journey/state``: journey
analyses over HTTP.

The body is the same spec document the CLI reads from ``--spec`` files (JSON); the
answer is the same document ``--json`` prints. The project's secret key
(``Authorization: Bearer <secret key>``) decides the project. A bad spec is a 400 whose
body names the field and the reason. Handlers are plain ``def``: FastAPI runs them in
its thread pool, each with its own short-lived workspace handle (own DuckDB connection).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request

from cxlens.errors import AuthError
from cxlens.store.keys import project_for_secret
from cxlens.store.workspace import Workspace

router = APIRouter(prefix="/api/v1", tags=["journeys"])


def _reader(request: Request, authorization: Annotated[str | None, Header()] = None
            ) -> Iterator[tuple[Workspace, str]]:
    # read access needs the secret key; the write key (ingest only) is refused here
    ws = Workspace.open(request.app.state.workspace)
    try:
        scheme, _, key = (authorization or "").partition(" ")
        project = (project_for_secret(ws.catalog, key.strip())
                   if scheme.lower() == "bearer" and key.strip() else None)
        if project is None:
            raise AuthError("send the project's secret key as 'Authorization: Bearer <secret "
                            "key>' (cxlens project create prints it)")
        yield ws, project
    finally:
        ws.close()


Reader = Annotated[tuple[Workspace, str], Depends(_reader)]
Spec = Annotated[dict[str, Any], Body(description="The analysis spec (as in docs/journeys.md).")]

FUNNEL_EXAMPLE = {"steps": ["Product Viewed", "Product Added",
                            {"event": "Checkout Step Viewed", "where": {"step": 3}},
                            "Order Completed"], "window": "7d", "breakdown": "device"}


def _run(name: str, reader: tuple[Workspace, str], spec: dict[str, Any]) -> dict[str, Any]:
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys.analyses import run_document

    ws, project = reader
    return run_document(DuckDBEngine(ws, project), name, spec, ws.root)


@router.post("/funnels", summary="Funnel: conversion through ordered steps")
def post_funnel(r: Reader, spec: Annotated[dict[str, Any], Body(
        examples=[FUNNEL_EXAMPLE])]) -> dict[str, Any]:
    return _run("funnel", r, spec)


@router.post("/paths", summary="Top paths from or to an event, with Sankey data")
def post_paths(r: Reader, spec: Spec) -> dict[str, Any]:
    return _run("paths", r, spec)


@router.post("/graph", summary="Directly-follows graph, variants and conformance")
def post_graph(r: Reader, spec: Spec) -> dict[str, Any]:
    return _run("graph", r, spec)


@router.post("/retention", summary="Cohort retention, lifecycle and repeat purchases")
def post_retention(r: Reader, spec: Spec) -> dict[str, Any]:
    return _run("retention", r, spec)


STATE_EXAMPLE = {"journey": "shop", "level": "person", "limit": 100}


@router.post("/journey/state", summary="Journey state: current stage, history, time in stage")
def post_journey_state(r: Reader, spec: Annotated[dict[str, Any], Body(
        examples=[STATE_EXAMPLE])]) -> dict[str, Any]:
    return _run("state", r, spec)
