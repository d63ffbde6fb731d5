"""A tiny column-expression AST, compiled once per engine (DuckDB SQL or Spark Columns).

Analyses describe *what* a row is (which step it matches, which item or breakdown value
it carries) with these nodes; the engines turn them into their own expressions. User
text (event names, property values) only ever travels as a DuckDB ``?`` parameter or a
Spark literal, never as SQL text, so a spec cannot inject SQL. Property keys become
JSON paths; they are checked against a strict pattern because a path is not a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cxlens.errors import SpecError

#: Event columns an expression may name (the rest are JSON, reached via Prop/Ctx).
COLUMNS = frozenset(
    {"event", "type", "channel", "source", "account_id", "user_id", "anonymous_id",
     "session_id", "currency", "revenue", "timestamp", "project", "event_id",
     "person_id"}  # person_id: added by the engines from identity resolution
)
OPS = ("=", "!=", "<", "<=", ">", ">=")
_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_][A-Za-z0-9_\-]*)*$")

Scalar = str | int | float | bool | datetime


@dataclass(frozen=True, slots=True)
class Col:
    name: str

    def __post_init__(self) -> None:
        if self.name not in COLUMNS:
            raise SpecError(f"unknown column {self.name!r}; use one of {sorted(COLUMNS)}",
                            field="column")


@dataclass(frozen=True, slots=True)
class Json:
    """A value inside the ``properties`` or ``context`` JSON text, as a string."""

    column: str  # "properties" or "context"
    key: str  # dotted path: "category", "device.type"

    def __post_init__(self) -> None:
        if self.column not in ("properties", "context"):
            raise SpecError(f"JSON column must be properties or context, got {self.column!r}",
                            field="property")
        if not _KEY.match(self.key):
            raise SpecError(
                f"property key {self.key!r} may only hold letters, digits, _ and -, "
                "with dots for nesting", field="property")

    @property
    def path(self) -> str:
        return "$." + self.key


#: person-level attributes (journeys/attributes.py): joined onto the events by person
ATTRIBUTE_PREFIXES = ("account.", "trait.")
ATTRIBUTE_NAMES = frozenset({"persona", "persona.id", "account"})
ACCOUNT_FIELDS = ("industry", "size", "country", "name")


@dataclass(frozen=True, slots=True)
class Attr:
    """A person-level attribute (``persona``, ``account.industry``, ``trait.age_group``):
    one value per person, from a small table the engine joins onto the events."""

    name: str

    def __post_init__(self) -> None:
        ok = self.name in ATTRIBUTE_NAMES or (
            self.name.startswith("trait.") and bool(_KEY.match(self.name.removeprefix("trait.")))
        ) or self.name in tuple(f"account.{f}" for f in ACCOUNT_FIELDS)
        if not ok:
            raise SpecError(
                f"unknown person attribute {self.name!r}; use persona, persona.id, account, "
                f"account.<{'|'.join(ACCOUNT_FIELDS)}> or trait.<profile trait>", field="attribute")

    @property
    def column(self) -> str:
        """The joined column's name: derived from the name, safe as an identifier."""
        return "_attr_" + self.name.encode().hex()


@dataclass(frozen=True, slots=True)
class Lit:
    value: Scalar | None


@dataclass(frozen=True, slots=True)
class Coalesce:
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Cmp:
    left: Expr
    op: str
    right: Scalar

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise SpecError(f"unknown operator {self.op!r}; use one of {list(OPS)}", field="op")


@dataclass(frozen=True, slots=True)
class In:
    left: Expr
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class IsNull:
    arg: Expr


@dataclass(frozen=True, slots=True)
class And:
    args: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Or:
    args: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Not:
    arg: Cond


@dataclass(frozen=True, slots=True)
class Case:
    """First matching condition's label, else ``default`` (None = NULL)."""

    whens: tuple[tuple[Cond, str], ...]
    default: Expr | None = None


TRUE = And(())
Expr = Col | Json | Attr | Lit | Coalesce | Case
Cond = Cmp | In | IsNull | And | Or | Not


def _numeric(op: str, right: Scalar) -> bool:
    return op in ("<", "<=", ">", ">=") and isinstance(right, int | float) and not isinstance(
        right, bool)


def _as_text(value: Scalar) -> Scalar:
    # JSON values are compared as their text, in both engines: true -> "true", 3 -> "3"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def attributes(*nodes: Expr | Cond | None) -> tuple[Attr, ...]:
    """The person attributes ``nodes`` use, each once, in first-use order."""
    found: dict[str, Attr] = {}

    def walk(node: object) -> None:
        match node:
            case Attr(name):
                found.setdefault(name, node)
            case Coalesce(args) | And(args) | Or(args):
                for a in args:
                    walk(a)
            case Case(whens, default):
                for cond, _ in whens:
                    walk(cond)
                walk(default)
            case Cmp(left, _, _) | In(left, _):
                walk(left)
            case IsNull(arg) | Not(arg):
                walk(arg)

    for n in nodes:
        walk(n)
    return tuple(found.values())


# -- DuckDB ---------------------------------------------------------------------------
def to_sql(node: Expr | Cond, params: list[Any]) -> str:
    """SQL text for ``node``; every value is appended to ``params`` as a ``?``."""
    match node:
        case Col(name):
            return f'"{name}"'
        case Json(column, _):
            params.append(node.path)
            return f"json_extract_string({column}, ?)"
        case Attr():
            return f'"{node.column}"'
        case Lit(value):
            if value is None:
                return "NULL"
            params.append(value)
            return "?"
        case Coalesce(args):
            return "coalesce(" + ", ".join(to_sql(a, params) for a in args) + ")"
        case Case(whens, default):
            if not whens:
                return to_sql(default, params) if default is not None else "NULL"
            parts = ["CASE"]
            for cond, label in whens:
                parts.append(f"WHEN {to_sql(cond, params)} THEN ?")
                params.append(label)
            if default is not None:
                parts.append(f"ELSE {to_sql(default, params)}")
            parts.append("END")
            return " ".join(parts)
        case Cmp(left, op, right):
            text = to_sql(left, params)
            if _numeric(op, right):
                params.append(float(right))  # type: ignore[arg-type]
                return f"(TRY_CAST({text} AS DOUBLE) {op} ?)"
            value = right if isinstance(left, Col) else _as_text(right)
            params.append(value)
            return f"({text} {'<>' if op == '!=' else op} ?)"
        case In(left, values):
            text = to_sql(left, params)
            if not values:
                return "FALSE"
            for v in values:
                params.append(v if isinstance(left, Col) else _as_text(v))
            return f"({text} IN ({', '.join('?' for _ in values)}))"
        case IsNull(arg):
            return f"({to_sql(arg, params)} IS NULL)"
        case And(args):
            return "(" + " AND ".join(to_sql(a, params) for a in args) + ")" if args else "TRUE"
        case Or(args):
            return "(" + " OR ".join(to_sql(a, params) for a in args) + ")" if args else "FALSE"
        case Not(arg):
            return f"(NOT {to_sql(arg, params)})"
    raise TypeError(f"not an expression: {node!r}")


# -- Spark ----------------------------------------------------------------------------
def to_spark(node: Expr | Cond) -> Any:
    """A pyspark Column for ``node`` (values as literals, never as SQL text)."""
    from pyspark.sql import functions as F

    match node:
        case Col(name):
            return F.col(name)
        case Json(column, _):
            return F.get_json_object(F.col(column), node.path)
        case Attr():
            return F.col(node.column)
        case Lit(value):
            return F.lit(value)
        case Coalesce(args):
            return F.coalesce(*(to_spark(a) for a in args))
        case Case(whens, default):
            if not whens:
                return to_spark(default) if default is not None else F.lit(None).cast("string")
            out = None
            for cond, label in whens:
                c = to_spark(cond)
                out = F.when(c, F.lit(label)) if out is None else out.when(c, F.lit(label))
            assert out is not None
            return out.otherwise(to_spark(default)) if default is not None else out
        case Cmp(left, op, right):
            col = to_spark(left)
            if _numeric(op, right):
                col, lit = col.try_cast("double"), F.lit(float(right))  # type: ignore[arg-type]
            else:
                lit = F.lit(right if isinstance(left, Col) else _as_text(right))
            return {
                "=": lambda: col == lit, "!=": lambda: col != lit, "<": lambda: col < lit,
                "<=": lambda: col <= lit, ">": lambda: col > lit, ">=": lambda: col >= lit,
            }[op]()
        case In(left, values):
            if not values:
                return F.lit(False)
            col = to_spark(left)
            return col.isin([v if isinstance(left, Col) else _as_text(v) for v in values])
        case IsNull(arg):
            return to_spark(arg).isNull()
        case And(args):
            out = F.lit(True)
            for a in args:
                out = out & to_spark(a)
            return out
        case Or(args):
            out = F.lit(False)
            for a in args:
                out = out | to_spark(a)
            return out
        case Not(arg):
            return ~to_spark(arg)
    raise TypeError(f"not an expression: {node!r}")
