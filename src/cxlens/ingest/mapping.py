"""Column mappings: how the columns of someone else's file become cxlens events.

A mapping is a small TOML or YAML file written by the person who knows the export
(docs/importing.md is its reference). It is validated here, completely, before any
data is read, so a typo in a mapping is one clear error and never a half import.
"""

from __future__ import annotations

import codecs
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cxlens.errors import MappingError
from cxlens.model.events import EVENT_TYPES
from cxlens.textfile import read_user_text

#: Event fields a mapping may fill, each from a column or a constant.
FIELDS: Final = (
    "timestamp", "event", "type", "anonymous_id", "user_id", "account_id", "channel",
    "session_id", "revenue", "currency", "event_id",
)
PERSON_FIELDS: Final = ("user_id", "anonymous_id")
_FIELD_KEYS: Final = frozenset(
    {"column", "value", "map", "unmapped", "default", "format", "timezone", "when_event",
     "decimal", "from", "prefix"}
)
_TOP_KEYS: Final = frozenset(
    {"format", "fields", "properties", "context", "person_required", "csv", "orders", "xes"}
)
PropType = Literal["auto", "string", "number", "boolean", "json"]
_PROP_TYPES: Final = ("auto", "string", "number", "boolean", "json")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """Where one event field comes from: a column (optionally rewritten) or a constant."""

    column: str | None = None
    value: str | float | None = None
    #: value rewrites, e.g. {"view": "Product Viewed"}; applied to the column's text
    map: dict[str, str] = field(default_factory=dict)
    #: what to do with a column value the map does not name: keep it, make it NULL, or
    #: reject the row
    unmapped: Literal["keep", "null", "reject"] = "keep"
    #: used where the column is empty
    default: str | None = None
    #: timestamp only: strptime format ('%d.%m.%Y %H:%M'), 'epoch', 'epoch_ms' or 'epoch_us'
    format: str | None = None
    #: timestamp only: time zone of naive times (default UTC)
    timezone: str | None = None
    #: revenue/currency only: set only on rows whose (rewritten) event is one of these
    when_event: tuple[str, ...] = ()
    #: revenue only: decimal separator of the text ('.' or ',' as in 1.234,56)
    decimal: str = "."
    #: event_id only: derive a stable id from these columns (re-imports then dedupe)
    from_columns: tuple[str, ...] = ()
    #: event_id only: text put in front of the derived digest's input, e.g. 'order'
    prefix: str = ""

    def columns(self) -> list[str]:
        cols = [self.column] if self.column else []
        return cols + list(self.from_columns)


@dataclass(frozen=True, slots=True)
class PropertiesSpec:
    #: explicit list of columns, or None for "all remaining columns"
    columns: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    types: dict[str, PropType] = field(default_factory=dict)
    #: constant properties added to every event
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CsvOptions:
    delimiter: str = ","
    #: no delimiter was given: take the one of , ; tab | that splits the first line most
    #: (a German Excel export uses ';')
    sniff_delimiter: bool = True
    quote: str = '"'
    escape: str = '"'
    header: bool = True
    encoding: str = "utf-8"
    skip: int = 0


@dataclass(frozen=True, slots=True)
class Mapping:
    fields: dict[str, FieldSpec]
    properties: PropertiesSpec = PropertiesSpec()
    #: context path ("page.url", "campaign.source") -> where the value comes from
    context: dict[str, FieldSpec] = field(default_factory=dict)
    #: reject rows without user_id and anonymous_id (default: when either is mapped)
    person_required: bool | None = None
    csv: CsvOptions = CsvOptions()
    format: str | None = None
    #: format-specific sections kept as given (orders, xes read their own keys)
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec | None:
        return self.fields.get(name)

    @property
    def requires_person(self) -> bool:
        if self.person_required is not None:
            return self.person_required
        return any(self.fields.get(f) is not None and self.fields[f].column
                   for f in PERSON_FIELDS)

    def used_columns(self) -> set[str]:
        """Source columns that feed event fields or context (not 'remaining' properties).

        Columns an event id is derived from stay in the properties: they are data."""
        used: set[str] = set()
        for spec in [*self.fields.values(), *self.context.values()]:
            if spec.column:
                used.add(spec.column)
        return used

    def all_columns(self) -> set[str]:
        """Every source column the mapping names (to check they exist)."""
        cols = self.used_columns() | set(self.properties.columns or ())
        for spec in self.fields.values():
            cols.update(spec.from_columns)
        return cols


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a TOML (.toml) or YAML (.yaml/.yml) mapping file."""
    p = Path(path)
    if p.is_dir():
        raise MappingError(f"mapping {p} is a directory; pass a .toml or .yaml file to --mapping")
    if not p.is_file():
        raise MappingError(f"mapping file {p} not found; pass an existing file to --mapping")
    text = read_user_text(p, MappingError)
    try:
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise MappingError(f"{p} is not valid {p.suffix.lstrip('.').upper()}: {exc}") from exc
    except Exception as exc:  # yaml.YAMLError has no common base with ValueError
        raise MappingError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise MappingError(f"{p} must hold a table/mapping at the top level")
    return parse_mapping(data, where=str(p))


def parse_mapping(data: dict[str, Any], *, where: str = "mapping") -> Mapping:
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise MappingError(
            f"{where}: unknown section {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(_TOP_KEYS))}",
            field=sorted(unknown)[0],
        )
    raw_fields = _table(data.get("fields", {}), "fields", where)
    fields: dict[str, FieldSpec] = {}
    for name, raw in raw_fields.items():
        if name not in FIELDS:
            raise MappingError(
                f"{where}: unknown field {name!r} in section 'fields'; allowed: {', '.join(FIELDS)}"
                " (other columns go to section 'properties' or section 'context')",
                field=f"fields.{name}",
            )
        fields[name] = parse_field(raw, f"fields.{name}", where)
    if fields:  # XES and orders mappings may have no [fields] at all
        # an orders mapping's [fields] only override what [orders] generates
        check_fields(fields, where, complete=not ("orders" in data or data.get("format") == "orders"))
    context = {
        key: parse_field(raw, f"context.{key}", where)
        for key, raw in _table(data.get("context", {}), "context", where).items()
    }
    for key in context:
        if not key or any(not part for part in key.split(".")):
            raise MappingError(f"{where}: context key {key!r} must be a dotted path like 'page.url'")
    person = data.get("person_required")
    if person is not None and not isinstance(person, bool):
        raise MappingError(f"{where}: person_required must be true or false", field="person_required")
    fmt = data.get("format")
    if fmt is not None and not isinstance(fmt, str):
        raise MappingError(f"{where}: format must be a string such as 'csv'", field="format")
    extra: dict[str, Any] = {k: _table(data[k], k, where) for k in ("orders", "xes") if k in data}
    return Mapping(
        fields=fields,
        properties=_parse_properties(data.get("properties"), where),
        context=context,
        person_required=person,
        csv=_parse_csv(data.get("csv"), where),
        format=fmt,
        extra=extra,
    )


def parse_field(raw: Any, name: str, where: str = "mapping") -> FieldSpec:
    """A field is a column name (string) or a table with column/value and options."""
    if isinstance(raw, str):
        return FieldSpec(column=raw)
    if not isinstance(raw, dict):
        raise MappingError(
            f"{where}: {name} must be a column name or a table like {{ column = \"...\" }}",
            field=name,
        )
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise MappingError(
            f"{where}: {name} has unknown key {sorted(unknown)[0]!r}; allowed: "
            f"{', '.join(sorted(_FIELD_KEYS))}",
            field=name,
        )
    column, value = raw.get("column"), raw.get("value")
    from_cols = raw.get("from", [])
    if isinstance(from_cols, str):
        from_cols = [from_cols]
    if sum(x is not None and x != [] for x in (column, value, from_cols or None)) != 1:
        raise MappingError(f"{where}: {name} needs exactly one of 'column', 'value' or 'from'",
                           field=name)
    if column is not None and not isinstance(column, str):
        raise MappingError(f"{where}: {name}.column must be a column name", field=name)
    if value is not None and not isinstance(value, str | int | float):
        raise MappingError(f"{where}: {name}.value must be text or a number", field=name)
    mapping = raw.get("map", {})
    if not isinstance(mapping, dict) or not all(isinstance(v, str | int | float) for v in mapping.values()):
        raise MappingError(f"{where}: {name}.map must map values to text", field=name)
    unmapped = raw.get("unmapped", "keep")
    if unmapped not in ("keep", "null", "reject"):
        raise MappingError(f"{where}: {name}.unmapped must be keep, null or reject", field=name)
    tz = raw.get("timezone")
    if tz is not None:
        try:
            zoneinfo.ZoneInfo(str(tz))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise MappingError(
                f"{where}: {name}.timezone {tz!r} is not a time zone; use e.g. 'Europe/Berlin'",
                field=name,
            ) from exc
    when = raw.get("when_event", [])
    if isinstance(when, str):
        when = [when]
    decimal = str(raw.get("decimal", "."))
    if decimal not in (".", ","):
        raise MappingError(f"{where}: {name}.decimal must be '.' or ','", field=name)
    default = raw.get("default")
    return FieldSpec(
        column=column,
        value=value,
        map={str(k): str(v) for k, v in mapping.items()},
        unmapped=unmapped,
        default=None if default is None else str(default),
        format=None if raw.get("format") is None else str(raw["format"]),
        timezone=None if tz is None else str(tz),
        when_event=tuple(str(w) for w in when),
        decimal=decimal,
        from_columns=tuple(str(c) for c in from_cols),
        prefix=str(raw.get("prefix", "")),
    )


def check_fields(fields: dict[str, FieldSpec], where: str, *, complete: bool = True) -> None:
    """``complete``: the fields must make events on their own (not overrides)."""
    ts = fields.get("timestamp")
    if ts is None and complete:
        raise MappingError(f"{where}: section 'fields' needs timestamp = \"<column>\"; every event needs a time",
                           field="fields.timestamp")
    if ts is not None and ts.column is None:
        raise MappingError(f"{where}: fields.timestamp must name a column", field="fields.timestamp")
    if "event" not in fields and "type" not in fields and complete:
        raise MappingError(
            f"{where}: section 'fields' needs event = \"<column>\" or event = {{ value = \"Name\" }}",
            field="fields.event",
        )
    typ = fields.get("type")
    if typ is not None and typ.value is not None and str(typ.value) not in EVENT_TYPES:
        raise MappingError(
            f"{where}: fields.type value {typ.value!r} is not one of {', '.join(sorted(EVENT_TYPES))}",
            field="fields.type",
        )
    for name, spec in fields.items():
        if spec.from_columns and name != "event_id":
            raise MappingError(f"{where}: only event_id may use 'from'", field=f"fields.{name}")
        if spec.when_event and name not in ("revenue", "currency"):
            raise MappingError(f"{where}: only revenue and currency take when_event",
                               field=f"fields.{name}")
        if (spec.format or spec.timezone) and name != "timestamp":
            raise MappingError(f"{where}: format/timezone belong to fields.timestamp",
                               field=f"fields.{name}")


def _parse_properties(raw: Any, where: str) -> PropertiesSpec:
    if raw is None:
        return PropertiesSpec()
    if isinstance(raw, str | list):
        raw = {"columns": raw}
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: section 'properties' must be a table", field="properties")
    unknown = set(raw) - {"columns", "exclude", "rename", "types", "values"}
    if unknown:
        raise MappingError(
            f"{where}: section 'properties' has unknown key {sorted(unknown)[0]!r}; allowed: "
            "columns, exclude, rename, types, values",
            field="properties",
        )
    cols = raw.get("columns", "remaining")
    if cols in ("remaining", "all", "*"):
        columns: tuple[str, ...] | None = None
    elif isinstance(cols, list) and all(isinstance(c, str) for c in cols):
        columns = tuple(cols)
    else:
        raise MappingError(
            f"{where}: properties.columns must be a list of columns or \"remaining\"",
            field="properties.columns",
        )
    types = {str(k): str(v) for k, v in _table(raw.get("types", {}), "properties.types", where).items()}
    for key, typ in types.items():
        if typ not in _PROP_TYPES:
            raise MappingError(
                f"{where}: properties.types.{key} must be one of {', '.join(_PROP_TYPES)}",
                field=f"properties.types.{key}",
            )
    exclude = raw.get("exclude", [])
    if not isinstance(exclude, list):
        raise MappingError(f"{where}: properties.exclude must be a list", field="properties.exclude")
    return PropertiesSpec(
        columns=columns,
        exclude=tuple(str(c) for c in exclude),
        rename={str(k): str(v) for k, v in _table(raw.get("rename", {}), "properties.rename", where).items()},
        types=types,  # type: ignore[arg-type]  # checked against _PROP_TYPES above
        values=dict(_table(raw.get("values", {}), "properties.values", where)),
    )


def _parse_csv(raw: Any, where: str) -> CsvOptions:
    if raw is None:
        return CsvOptions()
    table = _table(raw, "csv", where)
    unknown = set(table) - {"delimiter", "quote", "escape", "header", "encoding", "skip"}
    if unknown:
        raise MappingError(f"{where}: section 'csv' has unknown key {sorted(unknown)[0]!r}", field="csv")
    delim = str(table.get("delimiter", ","))
    if delim in ("\\t", "tab"):
        delim = "\t"
    if len(delim) != 1:
        raise MappingError(f"{where}: csv.delimiter must be one character", field="csv.delimiter")
    encoding = str(table.get("encoding", "utf-8"))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise MappingError(f"{where}: csv.encoding {encoding!r} is not a text encoding; use e.g. "
                           "utf-8, latin-1, cp1252 or utf-16", field="csv.encoding") from None
    quote = table.get("quote", '"')
    escape = table.get("escape", quote)
    for key, char in (("quote", quote), ("escape", escape)):
        if not isinstance(char, str) or len(char) != 1:
            raise MappingError(f"{where}: csv.{key} must be one character, not {char!r}", field=f"csv.{key}")
    header = table.get("header", True)
    if not isinstance(header, bool):
        raise MappingError(f"{where}: csv.header must be true or false (no quotes), not {header!r}",
                           field="csv.header")
    skip = table.get("skip", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise MappingError(f"{where}: csv.skip must be a whole number of lines, 0 or more, not {skip!r}",
                           field="csv.skip")
    return CsvOptions(
        delimiter=delim, sniff_delimiter="delimiter" not in table, quote=quote, escape=escape,
        header=header, encoding=encoding, skip=skip,
    )


def _table(raw: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: section '{name}' must be a table of key = value", field=name)
    return raw
