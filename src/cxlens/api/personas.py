"""``/api/v1/personas``: the latest persona run, one persona explained, its members.

Read-only, like the other analyses: the project's secret key (``Authorization: Bearer
<secret key>``) decides the project. ``level`` is ``person`` (default) or ``account``
(B2B buying centres); ``lang`` (``de``/``en``) picks the ``name`` and ``description``
fields (both languages are always in ``name_de``/``name_en`` etc.). No run yet, an
unknown persona or a bad parameter is a 4xx JSON body naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi import APIRouter, Query

from cxlens.api.analyses import Reader
from cxlens.errors import NotFound, ValidationError
from cxlens.personas.store import check_lang, check_level, read_run_doc, run_dir

router = APIRouter(prefix="/api/v1/personas", tags=["personas"])

Level = Annotated[str, Query(description="person, or account (B2B buying centres as one unit)")]
Lang = Annotated[str, Query(description="Language of name and description: de or en")]
MAX_LIMIT = 1000


def _doc(r: tuple[Any, str], level: str, lang: str) -> dict[str, Any]:
    check_level(level)
    check_lang(lang)
    return read_run_doc(r[0], r[1], level)


def _persona(doc: dict[str, Any], persona_id: int, lang: str) -> dict[str, Any]:
    for p in doc["personas"]:
        if p["index"] == persona_id:
            drift = next((d for d in doc["drift"] if d["persona"] == persona_id), None)
            return {**p, "id": p["index"], "name": p[f"name_{lang}"], "description": p[f"description_{lang}"],
                    "drift": drift}
    ids = ", ".join(str(p["index"]) for p in doc["personas"])
    raise NotFound(f"persona {persona_id} is not in run {doc['run_id']}; personas are {ids}", field="persona_id")


@router.get("", summary="The latest persona run: every persona with size, revenue share and explanation")
def list_personas(r: Reader, level: Level = "person", lang: Lang = "en") -> dict[str, Any]:
    doc = _doc(r, level, lang)
    personas = [_persona(doc, p["index"], lang) for p in doc["personas"]]
    return {"run_id": doc["run_id"], "project": doc["project"], "level": doc.get("level", "person"),
            "seed": doc.get("seed", 0), "k": doc["k"], "persons": doc["persons"], "unassigned": doc["unassigned"],
            "silhouettes": doc["silhouettes"], "personas": personas}


@router.get("/{persona_id}", summary="One persona: explanation, stages, typical journey, pain points, drift")
def get_persona(persona_id: int, r: Reader, level: Level = "person", lang: Lang = "en") -> dict[str, Any]:
    doc = _doc(r, level, lang)
    return {"run_id": doc["run_id"], "level": doc.get("level", "person"), **_persona(doc, persona_id, lang)}


@router.get("/{persona_id}/members", summary="A page of a persona's members (person or account ids, sorted)")
def get_members(persona_id: int, r: Reader, level: Level = "person", lang: Lang = "en",
                limit: int = 100, offset: int = 0) -> dict[str, Any]:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit {limit}: use 1 to {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise ValidationError(f"offset {offset}: use 0 or more", field="offset")
    doc = _doc(r, level, lang)
    if persona_id != -1:  # -1: the unassigned (outliers)
        _persona(doc, persona_id, lang)
    t = pq.read_table(run_dir(r[0], r[1], level, doc["run_id"]) / "assignments.parquet")
    ids = t.filter(pc.equal(t.column("persona"), persona_id)).column(0).combine_chunks()
    ids = pc.take(ids, pc.array_sort_indices(ids))
    page = ids.slice(offset, limit).to_pylist()
    key = "account_id" if level == "account" else "person_id"
    return {"run_id": doc["run_id"], "persona_id": persona_id, "level": level, "id_column": key,
            "total": len(ids), "limit": limit, "offset": offset, "members": page}
