"""The stored id links (``identities``) plus small files of later state changes.

A link's ``flagged`` (over a cap) can change when an earlier link arrives late and
wins, and ``removed`` when someone unlinks it. Rewriting 10M links for a few
thousand such changes made an incremental resolve as slow as a full one, so changes
are appended to ``identity_link_state`` (the four id columns, ``flagged``,
``removed``, a generation ``gen``); readers see each link with its newest state
(``source``). When the changes reach a tenth of the links and 50,000 rows, or 16
files, they are folded into a rewritten links table (compaction).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from cxlens.identity import store
from cxlens.model.tables import IDENTITIES_SCHEMA
from cxlens.store.workspace import Workspace

LINKS = "identities"
STATE = "identity_link_state"
KEY = ["id_type_a", "id_a", "id_type_b", "id_b"]
STATE_SCHEMA = pa.schema([IDENTITIES_SCHEMA.field(k) for k in KEY] + [
    IDENTITIES_SCHEMA.field("flagged"), IDENTITIES_SCHEMA.field("removed"),
    pa.field("gen", pa.int64(), nullable=False)])
COMPACT_RATIO = 0.1
COMPACT_MIN_ROWS = 50_000
COMPACT_FILES = 16
# the link ends are mostly distinct strings (a dictionary would overflow and fall back
# after hashing each): dictionaries only for the low-cardinality columns
PARQUET = {"compression": "zstd", "compression_level": 1,
           "use_dictionary": ["project", "id_type_a", "id_type_b", "link_source"]}


def source(ws: Workspace, project: str) -> str | None:
    """SQL text of the links with their current state (a subquery over generated file
    paths, never user text), or None before the first resolve."""
    base = store.sql_source(ws, LINKS, project)
    state = store.sql_source(ws, STATE, project)
    if base is None or state is None:
        return base
    latest = (f"(SELECT id_type_a, id_a, id_type_b, id_b, arg_max(flagged, gen) AS s_flagged,"
              f" arg_max(removed, gen) AS s_removed FROM {state} GROUP BY ALL)")
    cols = ", ".join(f"l.{c}" for c in IDENTITIES_SCHEMA.names if c not in ("flagged", "removed"))
    return (f"(SELECT {cols}, coalesce(s.s_flagged, l.flagged) AS flagged, coalesce(s.s_removed, l.removed)"
            f" AS removed FROM {base} l LEFT JOIN {latest} s USING (id_type_a, id_a, id_type_b, id_b))")


def append(ws: Workspace, project: str, table: pa.Table, kind: str = "identity") -> None:
    """Store new links (IDENTITIES_SCHEMA)."""
    store.commit(ws, LINKS, project, [table], kind=kind, schema=IDENTITIES_SCHEMA, options=PARQUET)


def replace(ws: Workspace, project: str, data: pa.Table | duckdb.DuckDBPyRelation, kind: str = "identity") -> None:
    """Replace every link (and every state change) by ``data`` in one commit."""
    retire = store.live(ws, LINKS, project) + store.live(ws, STATE, project)
    if isinstance(data, pa.Table):
        store.commit(ws, LINKS, project, [data], retire=retire, kind=kind, schema=IDENTITIES_SCHEMA,
                     options=PARQUET)
    else:
        store.commit(ws, LINKS, project, [data.select(*IDENTITIES_SCHEMA.names)], retire=retire, kind=kind)


def set_state(ws: Workspace, project: str, changed: pa.Table, kind: str = "identity") -> None:
    """Record new ``flagged``/``removed`` values of stored links (KEY + both flags)."""
    if changed.num_rows == 0:
        return
    states = store.live(ws, STATE, project)
    gen = 1 + max((f.batch_id for f in states), default=0)
    table = changed.select([*KEY, "flagged", "removed"]).append_column(
        "gen", pa.repeat(pa.scalar(gen, pa.int64()), changed.num_rows))
    store.commit(ws, STATE, project, [table], kind=kind, schema=STATE_SCHEMA)
    states = store.live(ws, STATE, project)
    rows = sum(f.rows for f in states)
    base = sum(f.rows for f in store.live(ws, LINKS, project))
    if len(states) >= COMPACT_FILES or rows > max(COMPACT_RATIO * base, COMPACT_MIN_ROWS):
        compact(ws, project, kind)


def compact(ws: Workspace, project: str, kind: str = "identity") -> None:
    """Fold the state changes into a rewritten links table."""
    if not store.live(ws, STATE, project):
        return
    src = source(ws, project)
    assert src is not None
    replace(ws, project, ws.con.sql(f"SELECT * FROM {src}"), kind)
