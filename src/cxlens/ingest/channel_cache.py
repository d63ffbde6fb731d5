"""The channels of a collector round, classified once per distinct acquisition input.

The channel of an event is a function of seven values only: whether it has a context,
whether it is a page/screen view, and the six inputs its context holds
(CHANNEL_INPUT_PATHS: campaign source, medium and name, page url and referrer, click
ids). A round of collector events repeats them heavily (the same campaigns, landing
pages and referrers), yet the normalising SQL classified every row: parsing the context
JSON, two host regexes, the site-kind regex and the GA4 rule cascade, ~2 µs per event
and most of the planning time of each append (~30 ms). Here the inputs are read once
per row (the JSON parse, in DuckDB), the rows are grouped by them, and only the groups
not seen before are classified, by ``normalize_sql`` itself (its typed-inputs path), so
the GA4 rules stay in one place (ingest/channels.py). The append is then told that the
channels are done (``Workspace.append(..., channels_classified=True)``).

A row that brings its own channel keeps it (as in ``normalize_sql``).
"""

from __future__ import annotations

from typing import Final

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.ingest.channels import CHANNEL_INPUT_COLUMNS, CHANNEL_INPUT_PATHS
from cxlens.ingest.normalize import normalize_sql

#: groups remembered across rounds; beyond it the memory starts afresh (~300 bytes each)
MAX_KNOWN: Final = 50_000
_PATHS: Final = "[" + ", ".join(f"'$.{p}'" for p in CHANNEL_INPUT_PATHS) + "]"
#: one text per row naming its group exactly: a JSON array of the kind (n: no context,
#: v: page/screen view, e: any other event) and the six inputs (null when absent)
_KEY_SQL: Final = (
    "to_json(list_prepend(CASE WHEN context IS NULL THEN 'n'"
    " WHEN lower(CAST(type AS VARCHAR)) IN ('page', 'screen') THEN 'v' ELSE 'e' END,"
    f" CASE WHEN context IS NULL THEN [NULL, NULL, NULL, NULL, NULL, NULL]::VARCHAR[]"
    f" ELSE json_extract_string(CAST(context AS VARCHAR), {_PATHS}) END))"
)
_SOURCE: Final = "_cx_channel_src"
_GROUPS: Final = "_cx_channel_groups"


class ChannelCache:
    """Classifies the channels of tables of events (at least ``type``, ``context`` and
    ``channel``), remembering the groups it has seen. Use from one thread at a time."""

    def __init__(self, max_known: int = MAX_KNOWN) -> None:
        self._known: dict[str, str | None] = {}
        self.max_known = max_known

    def channels(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Array:
        """The channel of every row of ``table``, as ``normalize_sql`` classifies it."""
        con.register(_SOURCE, table)
        try:
            keys = con.sql(f"SELECT {_KEY_SQL} AS k FROM {_SOURCE}").to_arrow_table()
        finally:
            con.unregister(_SOURCE)
        groups = pc.dictionary_encode(keys.column("k").combine_chunks())
        names = groups.dictionary.to_pylist()
        new = [k for k in names if k not in self._known]
        if new:
            if len(self._known) + len(new) > self.max_known:
                self._known.clear()
            self._known.update(zip(new, _classify(con, new), strict=True))
        known = self._known
        per_group = pa.array([known[k] for k in names], pa.string())
        classified = per_group.take(groups.indices)
        given = table.column("channel").combine_chunks().cast(pa.string())
        keep = pc.fill_null(pc.not_equal(given, ""), False)
        return pc.if_else(keep, given, classified)


def _classify(con: duckdb.DuckDBPyConnection, keys: list[str]) -> list[str | None]:
    """The channels of groups (``_KEY_SQL`` texts), by ``normalize_sql`` over one
    representative event per group with its inputs as typed columns."""
    parsed = [orjson.loads(k) for k in keys]
    columns: dict[str, pa.Array] = {
        "type": pa.array(["page" if p[0] == "v" else "track" for p in parsed], pa.string()),
        "context": pa.array([None if p[0] == "n" else "{}" for p in parsed], pa.string()),
        "channel": pa.nulls(len(parsed), pa.string()),
    }
    for i, name in enumerate(CHANNEL_INPUT_COLUMNS):
        columns[name] = pa.array([p[i + 1] for p in parsed], pa.string())
    con.register(_GROUPS, pa.table(columns))
    try:
        sql, _ = normalize_sql(set(columns), _GROUPS)
        rows = con.execute(f"SELECT channel FROM ({sql})",
                           ["", "1970-01-01T00:00:00+00:00", "collector", ""]).fetchall()
    finally:
        con.unregister(_GROUPS)
    return [r[0] for r in rows]
