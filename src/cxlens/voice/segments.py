"""Feedback with the person and persona it belongs to, for breakdowns and filters.

``person_id`` comes from identity resolution (``with_person``: the resolved person, else
the user id, else the anonymous id), ``persona`` from the latest persona run
(:func:`cxlens.personas.current_assignments`), NULL when there is no run or the person
was not in it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb

from cxlens.errors import NotFound
from cxlens.store.workspace import Workspace


def feedback_files(root: Path, project: str) -> list[str]:
    folder = root / "tables" / "feedback" / f"project={project}"
    return sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []


def feedback_relation(ws: Workspace, con: duckdb.DuckDBPyConnection, project: str,
                      lang: str = "en") -> duckdb.DuckDBPyRelation | None:
    """The project's feedback on ``con`` plus ``person_id``, ``persona`` (name in ``lang``)
    and ``stage`` columns; None when the project has no feedback."""
    from cxlens.identity.resolve import with_person
    from cxlens.personas import current_assignments

    files = feedback_files(ws.root, project)
    if not files:
        return None
    rel = with_person(ws, con.sql("SELECT * FROM read_parquet($files, union_by_name = true)",
                                  params={"files": files}), project)
    name = f"_fb_{uuid.uuid4().hex[:8]}"
    stage = "json_extract_string(properties, '$.stage')"
    try:
        assign = current_assignments(ws, project, lang=lang)
    except NotFound:
        return rel.query(name, f"SELECT *, NULL::VARCHAR AS persona, {stage} AS stage FROM {name}")
    table = f"_pa_{uuid.uuid4().hex[:8]}"
    con.register(table, assign)
    return rel.query(name, f"SELECT f.*, a.persona_name AS persona, {stage} AS stage FROM {name} f "
                           f"LEFT JOIN {table} a ON a.person_id = f.person_id")
