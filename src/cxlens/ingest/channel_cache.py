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

from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.ingest.channels import CHANNEL_INPUT_COLUMNS, CHANNEL_INPUT_PATHS
from cxlens.ingest.normalize import normalize_sql

#: groups remembered across rounds; beyond it the memory starts afresh (~300 bytes each)
MAX_KNOWN: Final = 50_000
#: a round of at least this many events whose inputs are mostly new ...
UNIQUE_ROUND_ROWS: Final = 1_000
#: ... leaves the next this many rounds to the append's SQL (grouping cost ~0.7 µs per
#: event, a group's classification about what the SQL costs a row)
SKIP_ROUNDS: Final = 10
_PATHS: Final = "[" + ", ".join(f"'$.{p}'" for p in CHANNEL_INPUT_PATHS) + "]"
#: a row's group: the kind (n: no context, v: page/screen view, e: any other event) and
#: the six inputs (null when absent); ``k``, a JSON text of them, names it exactly
_GROUP_SQL: Final = (
    "SELECT k, g[1] AS kind, " + ", ".join(f"g[{i + 2}] AS i{i}" for i in range(6))
    + " FROM (SELECT g, to_json(g) AS k FROM (SELECT list_prepend(CASE WHEN context IS NULL"
    " THEN 'n' WHEN lower(CAST(type AS VARCHAR)) IN ('page', 'screen') THEN 'v' ELSE 'e' END,"
    " CASE WHEN context IS NULL THEN [NULL, NULL, NULL, NULL, NULL, NULL]::VARCHAR[]"
    f" ELSE json_extract_string(CAST(context AS VARCHAR), {_PATHS}) END) AS g FROM {{src}}))"
)
_SOURCE: Final = "_cx_channel_src"
_GROUPS: Final = "_cx_channel_groups"
#: the classification of ``_GROUPS``, a view kept on the connection: parsing the
#: normalising SQL (its GA4 expression is ~20 KB) cost ~15 ms of the ~40 ms each time
_VIEW: Final = "_cx_channel_of_groups"


class ChannelCache:
    """Classifies the channels of tables of events (at least ``type``, ``context`` and
    ``channel``), remembering the groups it has seen. Use from one thread at a time."""

    def __init__(self, max_known: int = MAX_KNOWN) -> None:
        self._known: dict[str, str | None] = {}
        self.max_known = max_known
        self._skip = 0

    def channels(self, con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Array | None:
        """The channel of every row of ``table``, as ``normalize_sql`` classifies it; None
        while the rounds' inputs are mostly new (then the append's SQL classifies them)."""
        if self._skip:
            self._skip -= 1
            return None
        con.register(_SOURCE, table)
        try:
            rows = con.sql(_GROUP_SQL.format(src=_SOURCE)).to_arrow_table()
        finally:
            con.unregister(_SOURCE)
        groups = pc.dictionary_encode(rows.column("k").combine_chunks())
        names = groups.dictionary.to_pylist()
        known = self._known
        new = [i for i, k in enumerate(names) if k not in known]
        found: dict[str, str | None] = {}
        if new:
            # dictionary_encode numbers the groups in the order they first appear
            _, first = np.unique(groups.indices.to_numpy(), return_index=True)
            found = dict(zip([names[i] for i in new],
                             _classify(con, rows.take(pa.array(first[new]))), strict=True))
            if len(new) > table.num_rows // 2 and table.num_rows >= UNIQUE_ROUND_ROWS:
                # unique inputs (a cache buster in every URL?): remembering them is of no
                # use, and grouping costs more than it saves; try again in a while
                self._skip = SKIP_ROUNDS
            else:
                if len(known) + len(new) > self.max_known:
                    known.clear()
                known.update(found)
        per_group = pa.array([known[k] if k in known else found[k] for k in names], pa.string())
        classified = per_group.take(groups.indices)
        given = table.column("channel").combine_chunks().cast(pa.string())
        keep = pc.fill_null(pc.not_equal(given, ""), False)
        return pc.if_else(keep, given, classified)


def _classify(con: duckdb.DuckDBPyConnection, groups: pa.Table) -> list[str | None]:
    """The channels of groups (rows of ``_GROUP_SQL``), by ``normalize_sql`` over one
    event per group with its inputs as typed columns."""
    kind = groups.column("kind")
    columns: dict[str, Any] = {
        "type": pc.if_else(pc.equal(kind, "v"), "page", "track"),
        "context": pc.if_else(pc.equal(kind, "n"), pa.scalar(None, pa.string()), "{}"),
        "channel": pa.nulls(groups.num_rows, pa.string()),
    }
    for i, name in enumerate(CHANNEL_INPUT_COLUMNS):
        columns[name] = groups.column(f"i{i}")
    con.register(_GROUPS, pa.table(columns))
    try:
        try:
            out = con.execute(f"SELECT channel FROM {_VIEW}").fetchall()
        except duckdb.CatalogException:  # the first time on this connection
            sql, _ = normalize_sql(set(columns), _GROUPS)
            # no parameters: they name the project and source, which no channel depends
            # on, and a query with parameters is planned again on every execution
            sql = sql.replace("?::VARCHAR", "''").replace("?::TIMESTAMPTZ", "NULL::TIMESTAMPTZ")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_VIEW} AS SELECT channel FROM ({sql})")
            out = con.execute(f"SELECT channel FROM {_VIEW}").fetchall()
    finally:
        con.unregister(_GROUPS)
    return [r[0] for r in out]
