"""Matching events to steps: an event name plus property filters, expressed once.

A :class:`Match` (used by funnel steps, exclusions, path anchors) compiles to an
engine-neutral condition (``cxlens.engines.expr``) that DuckDB and Spark both run.
Fields are named the way analysts name them: ``channel``, ``source``, ``device``,
``category`` (a key in ``properties``), ``properties.a.b`` or ``context.page.path``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cxlens.engines.expr import (
    ATTRIBUTE_NAMES,
    ATTRIBUTE_PREFIXES,
    COLUMNS,
    And,
    Attr,
    Cmp,
    Col,
    Cond,
    Expr,
    In,
    Json,
    Scalar,
)
from cxlens.errors import SpecError

#: Shorthands for values that live in the context JSON.
CONTEXT_FIELDS = {
    "device": "device.type",
    "os": "os",
    "locale": "locale",
    "page_path": "page.path",
    "utm_source": "campaign.source",
    "utm_medium": "campaign.medium",
    "utm_campaign": "campaign.name",
}


def field_expr(name: str) -> Expr:
    """The expression for a field name as analysts write it: an event column, a context
    shorthand (``device``), a person attribute (``persona``, ``account.industry``,
    ``trait.age_group``) or a property key (``category``, ``properties.a.b``)."""
    if not isinstance(name, str) or not name:
        raise SpecError("a field name must be a non-empty string", field="property")
    if name in COLUMNS:
        return Col(name)
    if name in ATTRIBUTE_NAMES or name.startswith(ATTRIBUTE_PREFIXES):
        return Attr(name)  # a person attribute (journeys/attributes.py)
    if name in CONTEXT_FIELDS:
        return Json("context", CONTEXT_FIELDS[name])
    if name.startswith("context."):
        return Json("context", name.removeprefix("context."))
    return Json("properties", name.removeprefix("properties."))


@dataclass(frozen=True, slots=True)
class Filter:
    """``field op value``; ``op`` one of = != < <= > >= in."""

    field: str
    op: str
    value: Scalar | tuple[Scalar, ...]

    def __post_init__(self) -> None:
        self.cond()  # a bad key or operator is a SpecError when the spec is made

    def cond(self) -> Cond:
        expr = field_expr(self.field)
        if self.op == "in":
            values = self.value if isinstance(self.value, tuple) else (self.value,)
            return In(expr, values)
        if isinstance(self.value, tuple):
            raise SpecError(f"operator {self.op!r} takes one value, not a list", field="where")
        return Cmp(expr, self.op, self.value)


@dataclass(frozen=True, slots=True)
class Match:
    """Events named ``event`` (any event if None) that pass every filter; or, for a
    touchpoint of a journey definition, its condition and name."""

    event: str | None
    where: tuple[Filter, ...] = ()
    touchpoint: tuple[str, Cond] | None = None

    def cond(self) -> Cond:
        parts: list[Cond] = [self.touchpoint[1]] if self.touchpoint else []
        if self.event is not None:
            parts.append(Cmp(Col("event"), "=", self.event))
        parts += [f.cond() for f in self.where]
        return And(tuple(parts))

    def label(self) -> str:
        if self.touchpoint is not None and not self.where:
            return self.touchpoint[0]
        if not self.where:
            return self.event or "any event"
        conds = ", ".join(f"{f.field} {f.op} {f.value}" for f in self.where)
        return f"{self.event or 'any event'} [{conds}]"


_OPS = ("!=", "<=", ">=", "=", "<", ">")


def parse_filter(text: str) -> Filter:
    """``"step=3"``, ``"total>=50"``, ``"device=mobile"`` -> Filter (CLI shorthand)."""
    for op in _OPS:
        if op in text:
            key, _, raw = text.partition(op)
            key, raw = key.strip(), raw.strip()
            if not key:
                break
            value: Scalar = raw
            if op in ("<", "<=", ">", ">="):
                try:
                    value = float(raw)
                except ValueError:
                    raise SpecError(f"{text!r}: {op} needs a number", field="where") from None
            return Filter(key, op, value)
    raise SpecError(f"cannot read filter {text!r}; write e.g. 'step=3' or 'total>=50'",
                    field="where")


def parse_match(text: str) -> Match:
    """CLI shorthand ``"Checkout Step Viewed | step=3 | device=mobile"``."""
    parts = [p.strip() for p in text.split("|")]
    if not parts[0]:
        raise SpecError(f"step {text!r} names no event", field="steps")
    return Match(parts[0], tuple(parse_filter(p) for p in parts[1:] if p))


#: touchpoint names -> conditions while a spec is read (per thread / request)
_TOUCHPOINTS: ContextVar[Mapping[str, Cond]] = ContextVar(
    "cxlens_touchpoints", default=MappingProxyType({}))


def using_journey(touchpoints: Mapping[str, Cond]) -> None:
    """Make ``{"touchpoint": name}`` steps resolvable (names of one journey definition)."""
    _TOUCHPOINTS.set(dict(touchpoints))


def match_from_dict(doc: Mapping[str, Any], where_field: str) -> Match:
    """``{"event": "...", "where": [{"field": "step", "op": "=", "value": 3}] }``; a
    ``where`` given as a mapping means equality on each key."""
    event = doc.get("event")
    if event is not None and not isinstance(event, str):
        raise SpecError("event must be a string", field=f"{where_field}.event")
    touchpoint: tuple[str, Cond] | None = None
    if "touchpoint" in doc:
        name = doc["touchpoint"]
        known_tps = _TOUCHPOINTS.get()
        if name not in known_tps:
            known = ", ".join(sorted(known_tps)) or "none: name a journey in the spec"
            raise SpecError(f"unknown touchpoint {name!r}; known: {known}",
                            field=f"{where_field}.touchpoint")
        touchpoint = (str(name), known_tps[name])
    raw = doc.get("where", ())
    filters: list[Filter] = []
    if isinstance(raw, Mapping):
        filters = [Filter(str(k), "=", v) for k, v in raw.items()]
    elif isinstance(raw, list | tuple):
        for item in raw:
            if isinstance(item, str):
                filters.append(parse_filter(item))
            elif isinstance(item, Mapping) and "field" in item:
                value = item.get("value")
                value = tuple(value) if isinstance(value, list) else value
                filters.append(Filter(str(item["field"]), str(item.get("op", "=")), value))  # type: ignore[arg-type]
            else:
                raise SpecError("each filter is 'key=value' or {field, op, value}",
                                field=f"{where_field}.where")
    else:
        raise SpecError("where must be a list or a mapping", field=f"{where_field}.where")
    return Match(event, tuple(filters), touchpoint)


def check_events(known: set[str], matches: list[tuple[str, Match]]) -> None:
    """SpecError naming the first event that does not occur in the data."""
    for field, m in matches:
        if m.event is not None and m.event not in known:
            near = sorted(k for k in known if k.lower() == m.event.lower())
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise SpecError(f"unknown event {m.event!r} in {field}: it does not occur in "
                            f"the data{hint}", field=field)
