"""The engine protocol: prepare sorted per-person columns once, run a kernel over them.

An analysis says which rows it needs and which columns (a step bitmask, an item label,
a breakdown value) as a :class:`Prepared` of expression nodes; an engine compiles that
to its own language, sorts the rows by (person, timestamp, event_id), and calls the
analysis' kernel on chunks that never split a person. The kernel returns an Arrow table
of mergeable partial results (rows that can simply be concatenated); the analysis
finishes on the driver. So each analysis exists once, whatever runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from cxlens.engines.expr import And, Attr, Cmp, Col, Cond, Expr, Lit, Or, attributes

#: prepared columns every kernel gets: person (string), ts (int64 µs since epoch, UTC)
BASE_SCHEMA = pa.schema([("person", pa.string()), ("ts", pa.int64())])

Kernel = Callable[[pa.Table], pa.Table]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Which rows and columns a kernel needs, engine-neutral.

    ``flags`` become one int64 column ``mask`` (bit i set when flags[i] holds);
    ``strings`` become string columns of those names (item labels, breakdown values).
    """

    where: Cond | None = None
    flags: tuple[Cond, ...] = ()
    strings: tuple[tuple[str, Expr], ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def row_filter(self) -> Cond | None:
        parts: list[Cond] = []
        if self.where is not None:
            parts.append(self.where)
        if self.since is not None:
            parts.append(Cmp(Col("timestamp"), ">=", self.since))
        if self.until is not None:
            parts.append(Cmp(Col("timestamp"), "<", self.until))
        return And(tuple(parts)) if parts else None

    def attributes(self) -> tuple[Attr, ...]:
        """Person attributes the expressions use: the engine joins them by person."""
        return attributes(self.where, *self.flags, *(e for _, e in self.strings))

    def schema(self) -> pa.Schema:
        fields = list(BASE_SCHEMA)
        if self.flags:
            fields.append(pa.field("mask", pa.int64()))
        fields += [pa.field(name, pa.string()) for name, _ in self.strings]
        return pa.schema(fields)


def any_of(conds: tuple[Cond, ...] | list[Cond]) -> Cond:
    return Or(tuple(conds))


def label(value: str) -> Expr:
    return Lit(value)


@dataclass(frozen=True, slots=True)
class EngineInfo:
    name: str
    detail: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """Runs kernels over a project's events. DuckDBEngine and SparkEngine implement it."""

    name: str

    def run(self, prep: Prepared, kernel: Kernel, out_schema: pa.Schema) -> pa.Table:
        """``kernel`` over the prepared rows, sorted by (person, ts), in person-whole
        chunks; the concatenation of its outputs."""
        ...

    def distinct(self, expr: Expr, limit: int = 10_000) -> list[str]:
        """Distinct non-null values of ``expr`` (to validate specs: unknown events)."""
        ...
