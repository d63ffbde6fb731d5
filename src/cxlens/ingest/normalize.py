"""Turn any relation with (a subset of) the event columns into canonical event rows.

Every path into the workspace — file importers, the collector, the simulator — goes
through this one SELECT, so defaults, derived ids and channels are computed the same
way everywhere.
"""

from __future__ import annotations

import re
from typing import Final

from cxlens.errors import ConfigError
from cxlens.ingest.channels import (
    CHANNEL_INPUT_COLUMNS,
    CLICK_MARKERS,
    channel_from_layers,
    channel_layers,
    input_layers,
    maybe_click_id,
    per_value_layers,
)
from cxlens.model.events import FILE_SCHEMA

_ACQUISITION_MARKERS: Final = ('"campaign"', *CLICK_MARKERS)
PROJECT_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SOURCE_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$")

_DUCK_TYPES: Final = {
    "string": "VARCHAR",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
    "double": "DOUBLE",
}

#: Derived event id: a digest of what makes an event this event. Re-importing the same
#: row gives the same id, so the append path drops it as a duplicate. Session, account,
#: revenue, currency and context are tagged parts that concat_ws skips when NULL: two
#: orders of one customer in the same second with different amounts, or two page views
#: with different URLs, are two events, and an event without any of them keeps the id
#: it had before they were digested.
DERIVED_ID_SQL: Final = (
    "md5(concat_ws(chr(31), ?::VARCHAR, {type}, coalesce({event}, ''), "
    "CAST(epoch_us({ts}) AS VARCHAR), coalesce({anon}, ''), coalesce({user}, ''), "
    "coalesce({props}, ''), 's=' || {session}, 'a=' || {account}, "
    "'r=' || CAST({revenue} AS VARCHAR), 'c=' || {currency}, 'x=' || nullif({context}, '{{}}')))"
)


def check_project(name: str) -> str:
    if not PROJECT_RE.match(name):
        raise ConfigError(
            f"invalid project name {name!r}: use 1-63 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit",
            field="project",
        )
    return name


def check_source(name: str) -> str:
    if not SOURCE_RE.match(name):
        raise ConfigError(
            f"invalid source name {name!r}: use letters, digits and . _ : / @ + - (max 128)",
            field="source",
        )
    return name


def normalize_sql(columns: set[str], relation: str, *, per_value: bool = False,
                  classify: bool = True) -> tuple[str, int]:
    """SELECT over ``relation`` giving FILE_SCHEMA columns plus ``project`` and ``date``.

    Returns the SQL and the number of ``?`` parameters it expects, which are, in order:
    project (for the derived id), received_at, source, project (for the column).
    ``relation`` is an internal view name, never user input.

    Three layers: typed columns, then the channel inputs (parsed once per row), then
    defaults and derived values. Every later expression refers to plain column names, so
    DuckDB computes each cast and each JSON parse once.

    ``per_value``: the typed channel inputs arrive dictionary-encoded (a Parquet scan),
    so they are prepared once per distinct value (``per_value_layers``) instead of once
    per row that needs them.

    ``classify=False``: the ``channel`` column already holds every row's channel (the
    collector classifies once per distinct input, ingest/channel_cache.py): it is taken
    as it is.
    """

    def typed(name: str) -> str:
        duck = _DUCK_TYPES[str(FILE_SCHEMA.field(name).type)]
        value = f'"{name}"' if name in columns else "NULL"
        cast = f"CAST({value} AS {duck})"
        if duck == "VARCHAR" and name not in ("properties", "context"):
            cast = f"nullif({cast}, '')"
        return f"{cast} AS \"{name}\""

    base_items = [typed(name) for name in FILE_SCHEMA.names]
    base_items[FILE_SCHEMA.names.index("type")] = (
        "coalesce(lower(CAST(\"type\" AS VARCHAR)), 'track') AS \"type\""
        if "type" in columns else "'track' AS \"type\""
    )
    project = "CAST(project AS VARCHAR)" if "project" in columns else "CAST(NULL AS VARCHAR)"
    typed_inputs = set(CHANNEL_INPUT_COLUMNS) <= columns
    if typed_inputs:
        base_items += [f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in CHANNEL_INPUT_COLUMNS]
    source = f"(SELECT {', '.join(base_items)}, {project} AS _project FROM {relation})"

    channel = "channel"
    if "context" in columns and classify:
        # Only page/screen views and events that carry campaign parameters or click ids
        # are classified (GA4 attributes the rest to the session); cheap tests keep the
        # JSON parse and the host extraction off every other row.
        if typed_inputs and per_value:
            layers = per_value_layers()
        elif typed_inputs:
            # the importer passed the inputs as columns: no JSON to parse at all
            src, med, _, url, _, ids = CHANNEL_INPUT_COLUMNS
            # a CASE, not AND/OR: DuckDB evaluates every operand of AND/OR on every row,
            # but a CASE branch only on the rows that reach it
            todo = (f"CASE WHEN channel IS NOT NULL THEN false WHEN type IN ('page', 'screen')"
                    f" OR {src} IS NOT NULL OR {med} IS NOT NULL THEN true"
                    f" ELSE {maybe_click_id(url, ids)} END")
            source = f"(SELECT *, {todo} AS _c_todo FROM {source})"
            first = [f'CASE WHEN _c_todo THEN "{c}" END AS _cf{i + 1}'
                     for i, c in enumerate(CHANNEL_INPUT_COLUMNS)]
            layers = [first, *input_layers()]
        else:
            json_first, *rest = channel_layers("context")
            skip = (
                "channel IS NOT NULL OR NOT (type IN ('page', 'screen')"
                + "".join(f" OR contains(context, '{marker}')" for marker in _ACQUISITION_MARKERS)
                + ")"
            )
            json_first = [f"CASE WHEN {skip} THEN NULL ELSE {item.rsplit(' AS ', 1)[0]} END AS "
                          f"{item.rsplit(' AS ', 1)[1]}" for item in json_first]
            layers = [json_first, *rest]
        for layer in layers:
            source = f"(SELECT *, {', '.join(layer)} FROM {source})"
        channel = f"coalesce(channel, {channel_from_layers('context', 'type')})"

    derived = DERIVED_ID_SQL.format(
        type="type", event="event", ts="timestamp", anon="anonymous_id", user="user_id",
        props="properties", session="session_id", account="account_id", revenue="revenue",
        currency="currency", context="context",
    )
    select = {
        "event_id": "event_id",
        "timestamp": "timestamp",
        "received_at": "coalesce(received_at, ?::TIMESTAMPTZ)",
        "type": "type",
        "event": "event",
        "anonymous_id": "anonymous_id",
        "user_id": "user_id",
        "account_id": "account_id",
        "channel": channel,
        "source": "coalesce(source, ?::VARCHAR)",
        "session_id": "session_id",
        "properties": "properties",
        "context": "context",
        "revenue": "revenue",
        "currency": "upper(currency)",
    }
    items = [f"{expr} AS \"{name}\"" for name, expr in select.items()]
    items[0] = f"coalesce(event_id, {derived}) AS \"event_id\""
    items.append("coalesce(_project, ?::VARCHAR) AS project")
    return f"SELECT {', '.join(items)} FROM {source}", 4
