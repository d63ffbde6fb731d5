"""Identity resolution: which anonymous ids, user ids and shared identifiers are one
person (docs/identity.md)."""

from cxlens.identity.resolve import (
    Explanation,
    ResolveResult,
    UnlinkResult,
    explain,
    id_map,
    person_of,
    resolve,
    unlink,
    with_person,
)

__all__ = ["Explanation", "ResolveResult", "UnlinkResult", "explain", "id_map", "person_of",
           "resolve", "unlink", "with_person"]
