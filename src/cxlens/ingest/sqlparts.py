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


def json_without(doc: str, keys: set[str]) -> str:
    """``doc`` (a JSON object expression) without these (dotted) keys, as a JSON expression.

    A nested key is moved out of its parent, not copied (a mapping that reads ``user.id``
    as the user id leaves ``user``'s other keys), and a parent the move leaves empty goes
    too. RFC 7396's merge patch does the removal; a parent that is not an object in some
    row (``"user": "bob"``) is patched with its own value, so it stays as it was, where
    the plain patch would turn it into ``{}``.
    """
    tree: dict[str, Any] = {}
    for key in keys:
        node: dict[str, Any] | None = tree
        *parents, last = key.split(".")
        for part in parents:
            assert node is not None
            node = node.setdefault(part, {})
            if node is None:  # an ancestor leaves whole
                break
        else:
            assert node is not None
            node[last] = None  # None: leaves whole (whatever was under it)
    if not tree:
        return doc

    def at(path: list[str]) -> str:
        return lit("$." + ".".join(orjson.dumps(p).decode() for p in path))

    def is_object(path: list[str]) -> str:
        return f"coalesce(json_type({doc}, {at(path)}) = 'OBJECT', false)"

    def empties(node: dict[str, Any], path: list[str]) -> str:
        keys_sql = f"json_keys({doc}, {at(path)})"
        gone = [lit(name) if child is None else
                f"CASE WHEN {is_object([*path, name])} AND {empties(child, [*path, name])} THEN {lit(name)} END"
                for name, child in sorted(node.items())]
        return f"(len({keys_sql}) > 0 AND list_has_all(list_value({', '.join(gone)}), {keys_sql}))"

    def patch(node: dict[str, Any], path: list[str]) -> str:
        items = []
        for name, child in sorted(node.items()):
            if child is None:
                items.append(f"{lit(name)}, NULL")
                continue
            sub = [*path, name]
            items.append(f"{lit(name)}, CASE WHEN NOT {is_object(sub)} THEN json_extract({doc}, {at(sub)})"
                         f" WHEN {empties(child, sub)} THEN NULL ELSE {patch(child, sub)} END")
        return f"json_object({', '.join(items)})"

    return f"json_merge_patch({doc}, {patch(tree, [])})"
