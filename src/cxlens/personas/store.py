"""Where persona runs live, and the public read of the current persona per person.

``<ws>/tables/personas/project=<p>/`` holds person-level runs; account-level runs (B2B
buying centres clustered as one) live in its ``level=account/`` subfolder. Each has
``runs/<run_id>/`` and ``latest.json``. This module imports no clustering code, so
analyses that only *read* personas (breakdowns in funnels, paths, retention, KPIs)
stay light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxlens.errors import NotFound, ValidationError
from cxlens.ingest.normalize import check_project
from cxlens.store.workspace import Workspace

LEVELS = ("person", "account")
LANGS = ("de", "en")
UNASSIGNED = {"de": "Ohne Persona", "en": "Unassigned"}
#: columns of :func:`current_assignments`
SCHEMA = pa.schema([("person_id", pa.string()), ("persona_id", pa.int32()), ("persona_name", pa.string())])


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValidationError(f"level {level!r}: use person or account", field="level")
    return level


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValidationError(f"lang {lang!r}: use de or en", field="lang")
    return lang


def root(ws: Workspace, project: str, level: str = "person") -> Path:
    base = ws.root / "tables" / "personas" / f"project={check_project(project)}"
    return base if check_level(level) == "person" else base / f"level={level}"


def latest_id(ws: Workspace, project: str, level: str = "person") -> str | None:
    p = root(ws, project, level) / "latest.json"
    return str(json.loads(p.read_text())["run_id"]) if p.exists() else None


def run_dir(ws: Workspace, project: str, level: str = "person", run_id: str | None = None) -> Path:
    """The directory of ``run_id`` (default: the latest run); NotFound says how to make one."""
    run_id = run_id or latest_id(ws, project, level)
    flag = "" if level == "person" else f" --level {level}"
    if run_id is None or "/" in run_id or not (root(ws, project, level) / "runs" / run_id).is_dir():
        raise NotFound(f"no {level} persona run{'' if run_id is None else ' ' + repr(run_id)} for project "
                       f"{project!r}; run: cxlens personas discover -p {project}{flag}", field="run_id")
    return root(ws, project, level) / "runs" / run_id


def read_run_doc(ws: Workspace, project: str, level: str = "person", run_id: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run_dir(ws, project, level, run_id) / "personas.json").read_text())
    return doc


def current_assignments(ws: Workspace, project: str | None = None, *, level: str = "person",
                        lang: str = "en") -> pa.Table:
    """The current persona of every person, from the latest persona run of ``project``.

    Returns a table ``person_id`` (string), ``persona_id`` (int32; -1 = unassigned, an
    outlier) and ``persona_name`` (the short name in ``lang``; "Unassigned" /
    "Ohne Persona" for -1), one row per person the run (or a later ``cxlens personas
    assign``) saw, sorted by person_id. Persons with events after that have no row: left
    join and treat a missing persona as unknown, or run ``assign`` first.

    ``level="account"`` reads the account-level run (B2B) and gives every member of an
    account its account's persona. Raises :class:`cxlens.errors.NotFound` when there is
    no run yet. This signature is stable: breakdowns in funnels, paths, retention and
    KPIs are built on it.
    """
    project = project or ws.default_project
    check_lang(lang)
    d = run_dir(ws, project, level)
    doc = json.loads((d / "personas.json").read_text())
    names = [p[f"name_{lang}"] for p in doc["personas"]]
    t = pq.read_table(d / "assignments.parquet")
    ids = t.column("persona").cast(pa.int32())
    if level == "account":
        members = pq.read_table(d / "members.parquet")  # person_id, account_id
        acct = pc.index_in(members.column("account_id"), value_set=t.column(0))
        ids = pc.if_else(pc.is_null(acct), pa.scalar(-1, pa.int32()), pc.take(ids, pc.fill_null(acct, 0)))
        persons = members.column("person_id")
    else:
        persons = t.column(0)
    label = pa.array([*names, UNASSIGNED[lang]], pa.string())
    pos = pc.if_else(pc.less(ids, 0), pa.scalar(len(names), pa.int32()), ids)
    out = pa.table([persons.cast(pa.string()), ids.cast(pa.int32()), pc.take(label, pos)], schema=SCHEMA)
    return out.sort_by("person_id")
