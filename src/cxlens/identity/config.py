"""Identity rules of a project: id types, their priority, caps and shared identifiers.

Read from ``cxlens.toml``::

    [identity]
    link_on_any_event = true          # any event carrying both ids links them
    [identity.id_types.email]          # add or override an id type
    priority = 2                       # lower wins when choosing the person's key id
    cap = 3                            # most ids of this type one person may hold
    traits = ["email"]                 # identify traits that carry this id type

Defaults (docs/identity.md explains the choice): a person holds at most 1 user_id,
3 e-mail addresses, 100 anonymous (device/cookie) ids and 3 of any other declared id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from cxlens.errors import ConfigError


@dataclass(frozen=True, slots=True)
class IdType:
    name: str
    priority: int
    cap: int
    traits: tuple[str, ...] = ()


DEFAULT_TYPES: Final = (
    IdType("user_id", 1, 1),
    IdType("email", 2, 3, ("email",)),
    IdType("customer_number", 3, 3, ("customer_number",)),
    IdType("crm_contact_id", 4, 3, ("crm_contact_id",)),
    IdType("anonymous_id", 9, 100),
)


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    types: tuple[IdType, ...] = DEFAULT_TYPES
    link_on_any_event: bool = True

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.types]

    def code(self, name: str) -> int:
        for i, t in enumerate(self.types):
            if t.name == name:
                return i
        raise ConfigError(
            f"unknown id type {name!r}; declare it under [identity.id_types.{name}] in cxlens.toml"
        )

    def caps(self) -> np.ndarray:
        return np.array([t.cap for t in self.types], np.int32)

    def ranks(self) -> np.ndarray:
        return np.array([t.priority for t in self.types], np.int32)

    def trait_types(self) -> list[tuple[str, str]]:
        """(trait key, id type) pairs of shared identifiers sent as traits."""
        return [(trait, t.name) for t in self.types for trait in t.traits]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IdentityConfig:
        raw = config.get("identity", {})
        if not isinstance(raw, dict):
            raise ConfigError("[identity] in cxlens.toml must be a table")
        types = {t.name: t for t in DEFAULT_TYPES}
        for name, spec in dict(raw.get("id_types", {})).items():
            if not isinstance(spec, dict):
                raise ConfigError(f"[identity.id_types.{name}] must be a table with priority, cap, traits")
            base = types.get(name, IdType(name, 5, 3))
            try:
                types[name] = IdType(
                    name,
                    int(spec.get("priority", base.priority)),
                    int(spec.get("cap", base.cap)),
                    tuple(str(x) for x in spec.get("traits", base.traits)),
                )
            except (TypeError, ValueError):
                raise ConfigError(
                    f"[identity.id_types.{name}]: priority and cap must be integers, traits a list"
                ) from None
            if types[name].cap < 1:
                raise ConfigError(f"[identity.id_types.{name}] cap must be at least 1")
        for required in ("user_id", "anonymous_id"):
            if required not in types:  # pragma: no cover - defaults always have them
                raise ConfigError(f"id type {required} is required")
        return cls(tuple(types.values()), bool(raw.get("link_on_any_event", True)))
