"""A segment of persons applied to every analysis an engine runs.

A dashboard filter such as "persona 2 only" must narrow funnels, paths, the journey graph
and retention alike without each analysis knowing about it. ``Segmented`` wraps any
engine and adds the segment's condition to every prepared query's row filter; since a
segment names person attributes (``persona.id``, ``account.industry``, ``trait.*``), it
keeps or drops whole persons, so the kernels see complete journeys of the segment only.
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from cxlens.engines.base import Engine, Kernel, Prepared
from cxlens.engines.expr import And, Attr, Cmp, Cond, Expr


class Segmented:
    """``inner`` with ``segment`` ANDed into every prepared row filter."""

    def __init__(self, inner: Engine, segment: Cond) -> None:
        self.inner = inner
        self.segment = segment
        self.name = inner.name

    def _narrow(self, prep: Prepared) -> Prepared:
        where = self.segment if prep.where is None else And((self.segment, prep.where))
        return replace(prep, where=where)

    def run(self, prep: Prepared, kernel: Kernel, out_schema: pa.Schema) -> pa.Table:
        return self.inner.run(self._narrow(prep), kernel, out_schema)

    def distinct(self, expr: Expr, limit: int = 10_000) -> list[str]:
        return self.inner.distinct(expr, limit)  # spec validation sees every value


def persona_segment(engine: Engine, persona: int | None) -> Engine:
    """``engine`` narrowed to the members of ``persona`` (latest persona run); as is for None."""
    if persona is None:
        return engine
    return Segmented(engine, Cmp(Attr("persona.id"), "=", str(int(persona))))
