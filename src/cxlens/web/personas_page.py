"""The personas page: one card per persona of the latest run, and the journey map's
``persona`` filter (docs/personas.md, docs/dashboard.md).

A card shows the persona's short name and description in the reader's language, its
size and share, its share of revenue and how far its members got (furthest stage
reached), and links to the journey map restricted to that persona's members (the
dashboard's page-wide ``persona`` filter, ``queries.connect(ws, project, persona)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cxlens.errors import NotFound
from cxlens.store.workspace import Workspace
from cxlens.web.i18n import Fmt, Lang, t

STAGES = ("awareness", "consideration", "decision", "fulfillment", "renewal")


@dataclass(frozen=True, slots=True)
class Card:
    index: int
    name: str
    description: str
    size: str
    share: str
    revenue_share: str
    stages: tuple[tuple[str, str, float], ...]  # (label, formatted share, share 0..1)
    drift: str | None


@dataclass(frozen=True, slots=True)
class Cards:
    run_id: str | None
    persons: int
    unassigned: int
    cards: tuple[Card, ...]


def cards(ws: Workspace, project: str, lang: Lang, fmt: Fmt) -> Cards:
    """The latest person-level run as cards; no run yet gives no cards (the page says
    how to make one)."""
    from cxlens.personas.store import read_run_doc

    try:
        doc = read_run_doc(ws, project)
    except NotFound:
        return Cards(None, 0, 0, ())
    drift = {d["persona"]: d for d in doc.get("drift", [])}
    out = []
    for p in doc["personas"]:
        stages = p.get("stages") or {}
        d = drift.get(p["index"])
        out.append(Card(
            p["index"], p[f"name_{lang}"], p[f"description_{lang}"], fmt.number(p["size"]),
            fmt.percent(p["share"], 0), fmt.percent(p["revenue_share"], 0),
            tuple((t(lang, f"personas.stage.{s}"), fmt.percent(float(stages.get(s, 0.0)), 0),
                   float(stages.get(s, 0.0))) for s in STAGES),
            t(lang, f"personas.drift.{d['kind']}") if d else None))
    return Cards(doc["run_id"], int(doc["persons"]), int(doc["unassigned"]), tuple(out))


def page_values(ws: Workspace, project: str, lang: Lang, fmt: Fmt) -> dict[str, Any]:
    return {"pc": cards(ws, project, lang, fmt)}
