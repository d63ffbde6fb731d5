"""Surveys in the workspace catalog, versioned.

Table ``surveys`` (created on first use): one row per saved version of a survey,
``(project, survey_id, version)`` unique, the definition as JSON. Saving a survey adds
version n+1, so answers recorded with version n keep meaning what they meant.
Deleting marks every version deleted (answers stay in ``feedback``); creating the same id
again starts after the last version.
"""

from __future__ import annotations

import json
import time
from typing import Any

from cxlens.errors import NotFound, ValidationError
from cxlens.store.catalog import Catalog
from cxlens.surveys.definitions import Survey, survey_from_dict, survey_to_doc, with_meta

_SCHEMA = """
CREATE TABLE IF NOT EXISTS surveys (
    project TEXT NOT NULL,
    survey_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL DEFAULT '',
    deleted_at REAL,
    PRIMARY KEY (project, survey_id, version)
)
"""


def _ensure(catalog: Catalog) -> None:
    catalog.execute(_SCHEMA)


def _from_row(definition: str, version: int, created_at: float, created_by: str) -> Survey:
    return with_meta(survey_from_dict(json.loads(definition)), int(version), float(created_at),
                     str(created_by))


def save_survey(catalog: Catalog, project: str, survey: Survey, *, by: str = "",
                create: bool = False) -> Survey:
    """Store ``survey`` as its next version; ``create`` refuses an id that is in use."""
    _ensure(catalog)
    doc = survey_to_doc(survey)
    for k in ("version", "created_at", "created_by"):
        doc.pop(k, None)
    now = time.time()
    with catalog.transaction() as db:
        rows = db.execute("SELECT max(version), sum(deleted_at IS NULL) FROM surveys "
                          "WHERE project = ? AND survey_id = ?", (project, survey.id)).fetchall()
        last, live = (rows[0][0] or 0), (rows[0][1] or 0)
        if create and live:
            raise ValidationError(f"survey {survey.id!r} already exists in {project}; change it with "
                                  f"'cxlens survey create --replace' or pick another id", field="id")
        version = int(last) + 1
        db.execute("INSERT INTO surveys (project, survey_id, version, definition, created_at, created_by)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (project, survey.id, version, json.dumps(doc, ensure_ascii=False), now, by))
    return with_meta(survey, version, now, by)


def list_surveys(catalog: Catalog, project: str, *, active_only: bool = False) -> list[Survey]:
    """The current (latest, not deleted) version of every survey of the project."""
    _ensure(catalog)
    rows = catalog.execute(
        "SELECT s.definition, s.version, s.created_at, s.created_by FROM surveys s "
        "JOIN (SELECT survey_id, max(version) AS v FROM surveys WHERE project = ? GROUP BY survey_id) m "
        "ON m.survey_id = s.survey_id AND m.v = s.version "
        "WHERE s.project = ? AND s.deleted_at IS NULL ORDER BY s.survey_id", (project, project)).fetchall()
    out = [_from_row(*r) for r in rows]
    return [s for s in out if s.active] if active_only else out


def get_survey(catalog: Catalog, project: str, survey_id: str, version: int | None = None) -> Survey:
    """The current version, or ``version`` (also of a deleted survey: old answers refer to it)."""
    _ensure(catalog)
    if version is None:
        rows = catalog.execute(
            "SELECT definition, version, created_at, created_by FROM surveys WHERE project = ? "
            "AND survey_id = ? AND deleted_at IS NULL ORDER BY version DESC LIMIT 1",
            (project, survey_id)).fetchall()
    else:
        rows = catalog.execute(
            "SELECT definition, version, created_at, created_by FROM surveys WHERE project = ? "
            "AND survey_id = ? AND version = ?", (project, survey_id, version)).fetchall()
    if not rows:
        raise NotFound(f"no survey {survey_id!r} in project {project!r}; see them with: cxlens survey list "
                       f"-p {project}", field="survey")
    return _from_row(*rows[0])


def versions(catalog: Catalog, project: str, survey_id: str) -> list[dict[str, Any]]:
    _ensure(catalog)
    rows = catalog.execute("SELECT version, created_at, created_by, deleted_at FROM surveys "
                           "WHERE project = ? AND survey_id = ? ORDER BY version",
                           (project, survey_id)).fetchall()
    return [{"version": int(v), "created_at": float(c), "created_by": str(b), "deleted": d is not None}
            for v, c, b, d in rows]


def delete_survey(catalog: Catalog, project: str, survey_id: str) -> int:
    """Mark every version deleted; returns how many versions there were."""
    _ensure(catalog)
    with catalog.transaction() as db:
        cur = db.execute("UPDATE surveys SET deleted_at = ? WHERE project = ? AND survey_id = ? "
                         "AND deleted_at IS NULL", (time.time(), project, survey_id))
        n = int(cur.rowcount)
    if n == 0:
        raise NotFound(f"no survey {survey_id!r} in project {project!r}; see them with: cxlens survey list "
                       f"-p {project}", field="survey")
    return n
