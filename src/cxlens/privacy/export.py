"""Right of access: everything cxlens holds about a person, as JSON files in a ZIP.

``ids.json`` (all ids and the person_id), ``profile.json`` (traits with sources,
computed traits), ``consent.json``, ``links.json`` (how the ids were joined),
``events.json`` (every event, all columns), ``feedback.json`` (rows naming one of the
ids in any feedback file). The archive is written to a temporary name and renamed into
place beside ``--out``, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson

from cxlens.errors import ValidationError
from cxlens.identity.profiles import profile
from cxlens.identity.resolve import explain, with_person
from cxlens.privacy.consent import consent_state
from cxlens.privacy.erase import _match_sql, _pattern, _scan_parquet, _sql_path, _text_columns
from cxlens.store.workspace import Workspace, _fsync_file


@dataclass(frozen=True, slots=True)
class ExportResult:
    project: str
    person_id: str
    path: str
    ids: int
    events: int
    feedback: int
    bytes: int


def _dumps(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)


def _rows(rel: duckdb.DuckDBPyRelation) -> list[dict[str, Any]]:
    cols = rel.columns
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def export(ws: Workspace, project: str | None, id_: str, out: str | os.PathLike[str]) -> ExportResult:
    project = project or ws.default_project
    dest = Path(out)
    if dest.suffix.lower() != ".zip":
        raise ValidationError(f"--out {dest} should end in .zip")
    if not dest.parent.exists():
        raise ValidationError(f"the directory {dest.parent} does not exist; create it or choose another --out")
    ex = explain(ws, project, id_)
    prof = profile(ws, project, id_)
    consent = consent_state(ws, project, id_)
    events = _rows(ws.query(lambda r: with_person(ws, r, project).filter(
        duckdb.ColumnExpression("person_id") == duckdb.ConstantExpression(ex.person_id)).order("timestamp"),
        project))
    ids = [i["id"] for i in ex.ids]
    pattern = _pattern(ids)
    feedback: list[dict[str, Any]] = []
    fb_dir = ws.root / "tables" / "feedback"
    for path in sorted(fb_dir.rglob("*.parquet")) if fb_dir.exists() else []:
        if _scan_parquet(ws.con, path, pattern):
            feedback += _rows(ws.con.sql(
                f"SELECT * FROM read_parquet({_sql_path(path)}, hive_partitioning = false)"
                f" WHERE {_match_sql(_text_columns(path))}", params={"pat": pattern}))
    # written beside the destination, so that the final rename stays on one file system
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ids.json", _dumps({"project": project, "person_id": ex.person_id, "ids": ex.ids}))
        z.writestr("profile.json", _dumps(asdict(prof)))
        z.writestr("consent.json", _dumps(asdict(consent)))
        z.writestr("links.json", _dumps([asdict(ln) for ln in ex.links]))
        z.writestr("events.json", _dumps(events))
        z.writestr("feedback.json", _dumps(feedback))
    _fsync_file(tmp)
    os.replace(tmp, dest)
    return ExportResult(project, ex.person_id, str(dest), len(ids), len(events), len(feedback),
                        dest.stat().st_size)
