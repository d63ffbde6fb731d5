"""Helpers for import tests: journeys (person -> rows) written as the files users have."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

from cxlens.store.workspace import Workspace


def write_csv(path: Path, people: dict[str, list[dict[str, Any]]], *, person_col: str = "customer",
              delimiter: str = ",", extra_lines: list[str] | None = None) -> Path:
    """One row per event; the person key fills ``person_col``; columns are the union."""
    rows = [{person_col: person, **ev} for person, evs in people.items() for ev in evs]
    cols: list[str] = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, delimiter=delimiter, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        for line in extra_lines or []:
            fh.write(line + "\n")
    return path


def write_jsonl(path: Path, people: dict[str, list[dict[str, Any]]], *, person_col: str = "customer",
                extra_lines: list[str] | None = None) -> Path:
    lines = [json.dumps({person_col: p, **ev}) for p, evs in people.items() for ev in evs]
    path.write_text("\n".join(lines + (extra_lines or [])) + "\n", encoding="utf-8")
    return path


def write_text(path: Path, text: str, *, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def events(ws: Workspace, project: str | None = None) -> list[dict[str, Any]]:
    """Stored events as dicts, properties/context parsed, in (person, time) order."""
    rel = ws.events(project)
    cols = rel.columns
    out = []
    for row in rel.order("coalesce(user_id, anonymous_id), timestamp, event").fetchall():
        d = dict(zip(cols, row, strict=True))
        for key in ("properties", "context"):
            d[key] = json.loads(d[key]) if d[key] else None
        out.append(d)
    return out


def journeys_of(ws: Workspace, project: str | None = None) -> dict[str, list[str]]:
    """person -> event names in time order."""
    out: dict[str, list[str]] = {}
    for e in events(ws, project):
        out.setdefault(e["user_id"] or e["anonymous_id"], []).append(e["event"])
    return out


def batches(ws: Workspace) -> list[dict[str, object]]:
    return [b for b in ws.catalog.batches() if b["kind"] == "import"]


def write_mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
