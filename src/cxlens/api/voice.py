"""``/api/v1/voice/scores``: NPS, CSAT, CES and custom scale means with 95 % intervals, as
``cxlens voice scores --json`` prints them (the project's secret key decides the project)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from cxlens.api.analyses import Reader
from cxlens.errors import SpecError
from cxlens.voice.scores import GROUPS, scores

router = APIRouter(prefix="/api/v1/voice", tags=["voice"])


@router.get("/scores", summary="NPS, CSAT, CES and custom scale means with confidence intervals, by a grouping")
def get_scores(r: Reader,
               by: Annotated[str, Query(description=f"One of {', '.join(GROUPS)}.")] = "touchpoint",
               lang: Annotated[str, Query(description="Language of persona names: de or en.")] = "en",
               ) -> list[dict[str, Any]]:
    ws, project = r
    if lang not in ("de", "en"):
        raise SpecError("lang must be de or en", field="lang")
    return [g.to_dict() for g in scores(ws.con, ws.root, project, by, ws=ws, lang=lang)]
