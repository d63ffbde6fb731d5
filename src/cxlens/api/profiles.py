"""``/api/v1/profiles``: profile lookup, timeline, explain, export and erasure over HTTP.

Every route needs the project's secret key (``Authorization: Bearer <secret key>``, as
``cxlens project create`` prints it); the key decides the project, so one project's
key can never read another's persons. Handlers are plain ``def``: FastAPI runs them in
its thread pool, each with its own short-lived workspace handle.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from starlette.responses import Response

from cxlens.errors import AuthError
from cxlens.store.keys import project_for_secret
from cxlens.store.workspace import Workspace

router = APIRouter(prefix="/api/v1/profiles", tags=["profiles"])


def _session(request: Request, authorization: Annotated[str | None, Header()] = None
             ) -> Iterator[tuple[Workspace, str]]:
    ws = Workspace.open(request.app.state.workspace)
    try:
        scheme, _, key = (authorization or "").partition(" ")
        project = project_for_secret(ws.catalog, key.strip()) if scheme.lower() == "bearer" else None
        if project is None:
            raise AuthError("send the project's secret key as 'Authorization: Bearer <secret key>'"
                            " (cxlens project create prints it)")
        yield ws, project
    finally:
        ws.close()


Session = Annotated[tuple[Workspace, str], Depends(_session)]


@router.get("/{person}")
def get_profile(person: str, s: Session) -> dict[str, Any]:
    from cxlens.identity.profiles import profile

    p = profile(s[0], s[1], person)
    doc = asdict(p)
    doc.pop("timeline")
    return doc


@router.get("/{person}/timeline")
def get_timeline(person: str, s: Session) -> dict[str, Any]:
    from cxlens.identity.profiles import profile

    p = profile(s[0], s[1], person)
    return {"project": p.project, "person_id": p.person_id, "timeline": p.timeline}


@router.get("/{person}/explain")
def get_explain(person: str, s: Session) -> dict[str, Any]:
    from cxlens.identity import explain

    return asdict(explain(s[0], s[1], person))


@router.get("/{person}/export")
def get_export(person: str, s: Session) -> Response:
    from cxlens.privacy.export import export

    with tempfile.TemporaryDirectory(dir=s[0].root / "_tmp") as tmp:
        res = export(s[0], s[1], person, Path(tmp) / "export.zip")
        body = Path(res.path).read_bytes()
    return Response(body, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{res.person_id}.zip"'})


@router.delete("/{person}")
def delete_profile(person: str, s: Session) -> dict[str, Any]:
    from cxlens.privacy.erase import erase

    return asdict(erase(s[0], s[1], person))
