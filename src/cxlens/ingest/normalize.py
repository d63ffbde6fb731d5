"""Turn any relation with (a subset of) the event columns into canonical event rows.

Every path into the workspace — file importers, the collector, the simulator — goes
through this one SELECT, so defaults, derived ids and channels are computed the same
way everywhere.
"""

from __future__ import annotations

import re
from typing import Final

from cxlens.errors import ConfigError
from cxlens.ingest.channels import channel_from_layers, channel_layers
from cxlens.model.events import FILE_SCHEMA

_ACQUISITION_MARKERS: Final = ('"campaign"', "clid", "clkid", "braid", "li_fat_id", "epik")
PROJECT_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
SOURCE_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$")

_DUCK_TYPES: Final = {
    "string": "VARCHAR",
    "timestamp[us, tz=UTC]": "TIMESTAMPTZ",
    "double": "DOUBLE",
}

#: Derived event id: a digest of what makes an event this event. Re-importing the same
#: row gives the same id, so the append path drops it as a duplicate.
DERIVED_ID_SQL: Final = (
    "md5(concat_ws(chr(31), ?::VARCHAR, {type}, coalesce({event}, ''), "
    "CAST(epoch_us({ts}) AS VARCHAR), coalesce({anon}, ''), coalesce({user}, ''), "
    "coalesce({props}, '')))"
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


def normalize_sql(columns: set[str], relation: str) -> tuple[str, int]:
    """SELECT over ``relation`` giving FILE_SCHEMA columns plus ``project`` and ``date``.

    Returns the SQL and the number of ``?`` parameters it expects, which are, in order:
    the project (for the derived id), received_at, source, project (for the column).
    ``relation`` is an internal view name, never user input.
    """

    def col(name: str) -> str:
        return f'"{name}"' if name in columns else "NULL"

    def typed(name: str) -> str:
        duck = _DUCK_TYPES[str(FILE_SCHEMA.field(name).type)]
        return f"CAST({col(name)} AS {duck})" if name in columns else f"CAST(NULL AS {duck})"

    ts = typed("timestamp")
    typ = f"coalesce(lower(CAST({col('type')} AS VARCHAR)), 'track')"
    ctx = typed("context")
    derived = DERIVED_ID_SQL.format(
        type=typ, event=typed("event"), ts=ts, anon=typed("anonymous_id"),
        user=typed("user_id"), props=typed("properties"),
    )
    select = {
        "event_id": f"coalesce(nullif({typed('event_id')}, ''), {derived})",
        "timestamp": ts,
        "received_at": f"coalesce({typed('received_at')}, ?::TIMESTAMPTZ)",
        "type": typ,
        "event": typed("event"),
        "anonymous_id": f"nullif({typed('anonymous_id')}, '')",
        "user_id": f"nullif({typed('user_id')}, '')",
        "account_id": f"nullif({typed('account_id')}, '')",
        "channel": f"coalesce(nullif({typed('channel')}, ''), {channel_from_layers(ctx, typ)})"
        if "context" in columns else f"nullif({typed('channel')}, '')",
        "source": f"coalesce(nullif({typed('source')}, ''), ?::VARCHAR)",
        "session_id": f"nullif({typed('session_id')}, '')",
        "properties": typed("properties"),
        "context": ctx,
        "revenue": typed("revenue"),
        "currency": f"upper({typed('currency')})",
    }
    project = "coalesce(CAST(project AS VARCHAR), ?::VARCHAR)" if "project" in columns else "?::VARCHAR"
    items = [f"{expr} AS \"{name}\"" for name, expr in select.items()]
    items.append(f"{project} AS project")
    source = relation
    if "context" in columns:
        # Channel inputs are prepared in two inner layers (see channels.channel_layers), and
        # only for rows that do not bring a channel of their own.
        first, *rest = channel_layers(ctx)
        # Only page/screen views and events that carry campaign parameters or click ids
        # are classified (GA4 attributes the rest to the session); cheap substring tests
        # keep the JSON parse and the host extraction off every other row.
        skip = (
            f"nullif({typed('channel')}, '') IS NOT NULL OR NOT ({typ} IN ('page', 'screen')"
            + "".join(f" OR contains({ctx}, '{marker}')" for marker in _ACQUISITION_MARKERS)
            + ")"
        )
        first = [f"CASE WHEN {skip} THEN NULL ELSE {item.rsplit(' AS ', 1)[0]} END AS "
                 f"{item.rsplit(' AS ', 1)[1]}" for item in first]
        for layer in [first, *rest]:
            source = f"(SELECT *, {', '.join(layer)} FROM {source})"
    sql = f"SELECT {', '.join(items)} FROM {source}"
    return sql, 4
