"""Breakdowns by a person-level attribute for analyses whose kernels know nothing of them.

A person attribute (``persona``, ``account.industry``, ``trait.age_group``: see
``attributes.py``) has one value per person, so splitting the prepared rows by it keeps
every person whole and in order. ``split_kernel`` runs an analysis' own kernel once per
value on those rows and tags its partial results with the value; since each person is in
exactly one group, the partials of all groups together are the partials of everyone.
Paths, retention and the journey graph break down this way; funnels carry the value
through their own kernel (the value at step 1, which for a person attribute is the
person's).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.expr import Attr
from cxlens.errors import SpecError
from cxlens.journeys.arrays import encode

NONE = "(none)"
COLUMN = "dim"

Kernel = Callable[[pa.Table], pa.Table]


def person_attribute(name: str | None, field: str = "breakdown") -> Attr | None:
    """The attribute a breakdown names; only person-level attributes qualify here."""
    if name is None:
        return None
    from cxlens.journeys.steps import field_expr

    expr = field_expr(name)
    if not isinstance(expr, Attr):
        raise SpecError(f"{field} must be a person attribute (persona, persona.id, account, "
                        f"account.industry, account.size, trait.<name>), got {name!r}",
                        field=field)
    return expr


def split_schema(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("breakdown", pa.string()))


def split_kernel(kernel: Kernel, schema: pa.Schema) -> Kernel:
    """``kernel`` run per value of the prepared ``dim`` column, outputs tagged with it."""
    out_schema = split_schema(schema)

    def run(table: pa.Table) -> pa.Table:
        codes, dictionary = encode(table.column(COLUMN))
        labels = dictionary.to_pylist()
        if len(codes) == 0:
            return out_schema.empty_table()
        # one stable sort groups the values and keeps each person's rows in order, so a
        # many-valued attribute costs one pass, not one filter per value
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        table = table.take(pa.array(order)).drop_columns([COLUMN])
        bounds = np.concatenate(([0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]))
        parts: list[pa.Table] = []
        for lo, hi in pairwise(bounds):
            code = codes[lo]
            out = kernel(table.slice(int(lo), int(hi - lo))).cast(schema)
            value = NONE if code < 0 else str(labels[code])
            parts.append(out.append_column("breakdown", pa.repeat(
                pa.scalar(value, pa.string()), out.num_rows)))
        return pa.concat_tables(parts) if parts else out_schema.empty_table()

    return run


def by_value(rows: pa.Table) -> dict[str, pa.Table]:
    """The partial results of each breakdown value, values sorted."""
    col = rows.column("breakdown")
    values = sorted(v for v in pc.unique(col).to_pylist() if v is not None)
    return {v: rows.filter(pc.equal(col, v)) for v in values}
