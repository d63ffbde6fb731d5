"""Declarative journeys: events -> named touchpoints -> stages, from a TOML file.

A definition lives in the workspace as ``<ws>/journeys/<name>.toml`` (the shipped
defaults are ``examples/journeys/b2c.toml`` and ``b2b.toml``); it carries a ``version``
that analyses report, so a result can be traced to the definition it used. A touchpoint
matches events by name (``event``/``events``), type, channel, source and property
filters (``where``); the first matching touchpoint wins. The definition compiles to one
engine-neutral CASE expression, so paths, graphs and stages can run on touchpoints
instead of raw event names on any engine.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxlens.engines.expr import And, Case, Cmp, Col, Cond, Expr, In
from cxlens.errors import SpecError
from cxlens.journeys.steps import Filter, match_from_dict
from cxlens.textfile import read_user_text

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "journeys"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Touchpoint:
    name: str
    stage: str
    events: tuple[str, ...] = ()
    type: str | None = None
    channel: str | None = None
    source: str | None = None
    where: tuple[Filter, ...] = ()
    name_en: str | None = None

    def cond(self) -> Cond:
        parts: list[Cond] = []
        if self.events:
            parts.append(In(Col("event"), self.events))
        for col, value in (("type", self.type), ("channel", self.channel),
                           ("source", self.source)):
            if value is not None:
                parts.append(Cmp(Col(col), "=", value))
        parts += [f.cond() for f in self.where]
        return And(tuple(parts))


@dataclass(frozen=True, slots=True)
class JourneyDefinition:
    name: str
    version: int
    stages: tuple[str, ...]
    touchpoints: tuple[Touchpoint, ...]

    def touchpoint_expr(self) -> Expr:
        """The touchpoint's name for an event (NULL when none matches)."""
        return Case(tuple((t.cond(), t.name) for t in self.touchpoints))

    def stage_expr(self) -> Expr:
        return Case(tuple((t.cond(), t.stage) for t in self.touchpoints))

    def stage_index(self, stage: str) -> int:
        return self.stages.index(stage)


def definition_from_dict(doc: Mapping[str, Any], where: str = "journey") -> JourneyDefinition:
    name = doc.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"{where}: name must be lower-case letters, digits, - or _",
                        field="name")
    version = doc.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise SpecError(f"{where}: version must be a positive integer", field="version")
    stages = doc.get("stages")
    if not isinstance(stages, list) or not stages or not all(isinstance(s, str) for s in stages):
        raise SpecError(f"{where}: stages must be a non-empty list of names", field="stages")
    if len(set(stages)) != len(stages):
        raise SpecError(f"{where}: stage names must be unique", field="stages")
    tps: list[Touchpoint] = []
    for i, raw in enumerate(doc.get("touchpoints", [])):
        field = f"touchpoints[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise SpecError(f"{where}: each touchpoint needs a name", field=field)
        stage = raw.get("stage")
        if stage not in stages:
            raise SpecError(f"{where}: touchpoint {raw['name']!r} names unknown stage "
                            f"{stage!r}; stages are {stages}", field=f"{field}.stage")
        events = raw.get("events", [raw["event"]] if "event" in raw else [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise SpecError(f"{where}: events must be a list of names", field=f"{field}.events")
        match = match_from_dict({"where": raw.get("where", [])}, field)
        tp = Touchpoint(name=raw["name"], stage=str(stage), events=tuple(events),
                        type=raw.get("type"), channel=raw.get("channel"),
                        source=raw.get("source"), where=match.where,
                        name_en=raw.get("name_en"))
        if not (tp.events or tp.type or tp.channel or tp.source or tp.where):
            raise SpecError(f"{where}: touchpoint {tp.name!r} matches every event; give "
                            "event(s), type, channel, source or where", field=field)
        tps.append(tp)
    if not tps:
        raise SpecError(f"{where}: a journey needs at least one touchpoint", field="touchpoints")
    return JourneyDefinition(name, version, tuple(stages), tuple(tps))


def load_definition(path: Path) -> JourneyDefinition:
    try:
        doc = tomllib.loads(read_user_text(path, SpecError, field="journey"))
    except OSError as exc:
        raise SpecError(f"cannot read journey definition {path}: {exc.strerror}",
                        field="journey") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path} is not valid TOML: {exc}", field="journey") from None
    return definition_from_dict(doc, str(path))


def definition_path(root: Path, name: str) -> Path:
    if not _NAME.match(name):
        raise SpecError(f"journey name {name!r}: lower-case letters, digits, - or _",
                        field="journey")
    return root / "journeys" / f"{name}.toml"


def workspace_definition(root: Path, name: str) -> JourneyDefinition:
    """``<ws>/journeys/<name>.toml``, else the shipped example of that name."""
    path = definition_path(root, name)
    if path.exists():
        return load_definition(path)
    example = EXAMPLES / f"{name}.toml"
    if example.exists():
        return load_definition(example)
    raise SpecError(f"no journey definition {name!r}: create {path} or run "
                    f"'cxlens journey init {name} --from b2c'", field="journey")


# -- suggestions for events no touchpoint covers -------------------------------------------
#: keywords (German and English, lower case) -> the stage index they usually belong to
KEYWORDS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("newsletter", "kampagne", "campaign", "anzeige", "ad ", "whitepaper", "webinar",
      "blog", "landing"), 0),
    (("product", "produkt", "artikel", "search", "suche", "wishlist", "merkliste",
      "compare", "vergleich", "demo", "cart", "warenkorb", "added"), 1),
    (("checkout", "kasse", "order completed", "bestellung", "purchase", "kauf", "payment",
      "zahlung", "quote", "angebot", "contract signed", "vertrag unterschrieben"), 2),
    (("ship", "versand", "deliver", "liefer", "ticket", "support", "return", "retoure",
      "survey", "umfrage", "review", "bewertung", "complaint", "beschwerde"), 3),
    (("renew", "verläng", "verlaeng", "repeat", "wiederkauf", "loyalty", "treue",
      "cancel", "kündig", "kuendig", "churn"), 4),
)


@dataclass(frozen=True, slots=True)
class Suggestion:
    event: str
    events: int
    stage: str
    reason: str


def suggest(definition: JourneyDefinition, event_stats: list[tuple[str, int, float | None,
            str | None]]) -> list[Suggestion]:
    """Stages for events no touchpoint covers. ``event_stats``: (event, count, share of
    its occurrences after the person's first purchase or None, most common channel)."""
    covered = {e for t in definition.touchpoints for e in t.events}
    n = len(definition.stages)
    out: list[Suggestion] = []
    for event, count, after_purchase, channel in event_stats:
        if event in covered:
            continue
        lower = event.lower()
        hit = next(((i, kw) for kws, i in KEYWORDS for kw in kws if kw in lower), None)
        if hit is not None:
            idx, reason = min(hit[0], n - 1), f"name contains {hit[1].strip()!r}"
        elif after_purchase is not None and after_purchase >= 0.8:
            idx, reason = min(3, n - 1), f"{after_purchase:.0%} happen after a first purchase"
        elif channel in ("email", "paid_social", "display", "paid_search", "organic_social"):
            idx, reason = 0, f"mostly from channel {channel}"
        else:
            idx = 1 if after_purchase is not None and after_purchase < 0.5 else 0
            reason = ("mostly before a first purchase" if idx == 1 else
                      "no keyword or position says more: earliest stage")
        out.append(Suggestion(event, count, definition.stages[idx], reason))
    return out
