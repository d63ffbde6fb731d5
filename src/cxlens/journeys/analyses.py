"""The one shape of every journey analysis: a spec document in, a JSON document out.

The CLI (flags or a TOML/JSON spec file) and the HTTP API (a JSON body) both go through
``run_document``, so an analysis behaves the same wherever it is asked for.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxlens.engines.base import Engine
from cxlens.errors import SpecError
from cxlens.journeys.steps import using_journey
from cxlens.journeys.touchpoints import JourneyDefinition, workspace_definition
from cxlens.textfile import read_user_text


@dataclass(frozen=True, slots=True)
class Analysis:
    name: str
    run: Callable[[Engine, Mapping[str, Any], JourneyDefinition | None], dict[str, Any]]


def _funnel(engine: Engine, doc: Mapping[str, Any],
            journey: JourneyDefinition | None) -> dict[str, Any]:
    from cxlens.journeys.funnels import funnel, spec_from_dict

    return funnel(engine, spec_from_dict(doc)).to_dict()


def _paths(engine: Engine, doc: Mapping[str, Any],
           journey: JourneyDefinition | None) -> dict[str, Any]:
    from cxlens.journeys.paths import paths, spec_from_dict

    return paths(engine, spec_from_dict(doc, journey)).to_dict()


def _graph(engine: Engine, doc: Mapping[str, Any],
           journey: JourneyDefinition | None) -> dict[str, Any]:
    from cxlens.engines.expr import Col
    from cxlens.journeys.graph import conformance, graph, items, spec_from_dict
    from cxlens.journeys.steps import Match, check_events

    result = graph(engine, spec_from_dict(doc, journey))
    out = result.to_dict()
    designed = doc.get("designed")
    if designed is not None:
        if not isinstance(designed, list) or not all(isinstance(s, str) for s in designed):
            raise SpecError("designed must be a list of event names", field="designed")
        seen = items(result)
        unseen = [(f"designed[{i}]", Match(s)) for i, s in enumerate(designed) if s not in seen]
        if unseen:  # in no trace: a typo, unless the event exists outside this segment
            known = seen if journey is not None else seen | set(engine.distinct(Col("event")))
            check_events(known, unseen)
        out["conformance"] = conformance(result, designed).to_dict()
    return out


def _retention(engine: Engine, doc: Mapping[str, Any],
               journey: JourneyDefinition | None) -> dict[str, Any]:
    from cxlens.journeys.retention import retention, spec_from_dict

    return retention(engine, spec_from_dict(doc)).to_dict()


def _state(engine: Engine, doc: Mapping[str, Any],
           journey: JourneyDefinition | None) -> dict[str, Any]:
    from cxlens.journeys.state import spec_from_dict, state

    return state(engine, spec_from_dict(doc, journey)).to_dict()


ANALYSES: dict[str, Analysis] = {a.name: a for a in (
    Analysis("funnel", _funnel), Analysis("paths", _paths), Analysis("graph", _graph),
    Analysis("retention", _retention), Analysis("state", _state),
)}


def run_document(engine: Engine, name: str, doc: Mapping[str, Any],
                 root: Path | None = None) -> dict[str, Any]:
    """Run analysis ``name`` on ``doc``; ``"journey": "<name>"`` in the doc loads that
    definition from the workspace at ``root`` (touchpoints as path/graph steps and as
    ``{"touchpoint": ...}`` funnel steps)."""
    analysis = ANALYSES.get(name)
    if analysis is None:
        raise SpecError(f"unknown analysis {name!r}; use one of {sorted(ANALYSES)}",
                        field="analysis")
    if not isinstance(doc, Mapping):
        raise SpecError("a spec is a JSON object", field="spec")
    journey: JourneyDefinition | None = None
    if doc.get("journey") is not None:
        if root is None or not isinstance(doc["journey"], str):
            raise SpecError("journey must name a definition in the workspace", field="journey")
        journey = workspace_definition(root, doc["journey"])
        using_journey({t.name: t.cond() for t in journey.touchpoints})
    else:
        using_journey({})
    try:
        return analysis.run(engine, doc, journey)
    except (TypeError, ValueError, KeyError) as exc:
        if isinstance(exc, SpecError):
            raise
        # int("x"), a list where a number belongs, ...: still the user's spec
        raise SpecError(f"invalid {name} spec: {exc}", field="spec") from None


def read_spec_file(path: Path) -> dict[str, Any]:
    """A spec from a .toml or .json file."""
    try:
        text = read_user_text(path, SpecError, field="spec")
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror}", field="spec") from None
    try:
        doc = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(f"{path} is not valid {path.suffix[1:].upper()}: {exc}",
                        field="spec") from None
    if not isinstance(doc, dict):
        raise SpecError(f"{path} must hold an object", field="spec")
    return doc
