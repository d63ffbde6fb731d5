"""Safe SQL fragments from user-provided names and values.

Column names and values come from mapping files and file headers, so they are never
pasted into SQL as text: sqlglot renders them as quoted identifiers and literals.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlglot import exp


def ident(name: str) -> str:
    """A quoted DuckDB identifier for a user-provided column name."""
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def lit(value: Any) -> str:
    """A DuckDB literal for a user-provided value (text, number or boolean)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value).sql("duckdb")
    if isinstance(value, int | float):
        return exp.Literal.number(value).sql("duckdb")
    return exp.Literal.string(str(value)).sql("duckdb")


def json_lit(value: Any) -> str:
    """A JSON value as a DuckDB JSON expression."""
    return f"CAST({lit(orjson.dumps(value).decode())} AS JSON)"


def in_list(expr: str, values: list[str] | tuple[str, ...]) -> str:
    return f"{expr} IN ({', '.join(lit(v) for v in values)})"


def json_path(key: str) -> str:
    """A JSON path literal for a (dotted) key, each segment quoted: a.b -> $."a"."b"."""
    parts = ".".join(orjson.dumps(p).decode() for p in key.split("."))
    return lit("$." + parts)
