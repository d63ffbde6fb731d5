"""The id map (id_type, id, person_id): one base file plus small append-only deltas.

A full resolve writes the base: one Parquet file of every id seen, in order of first
appearance, the id type dictionary-encoded. An incremental resolve (or an unlink)
writes only the rows of the persons it touched to a delta file of
``identity_map_delta`` with a generation number ``gen``; readers see, per
(id_type, id), the row of the newest delta, else the base row. When the deltas
reach a tenth of the base and 50,000 rows, or 16 files, they are folded into a new base
(compaction) in the same commit that retires them, so reads stay one hash join
against a small table.
"""

from __future__ import annotations

import hashlib

import duckdb
import orjson
import pyarrow as pa

from cxlens.identity import store
from cxlens.store.workspace import Workspace

MAP = "identity_map"
DELTA = "identity_map_delta"
MAP_SCHEMA = pa.schema([pa.field("id_type", pa.string(), nullable=False),
                        pa.field("id", pa.string(), nullable=False),
                        pa.field("person_id", pa.string(), nullable=False)])
DELTA_SCHEMA = MAP_SCHEMA.append(pa.field("gen", pa.int64(), nullable=False))
COMPACT_RATIO = 0.1
COMPACT_MIN_ROWS = 50_000  # below this, rewriting the base costs more than reading deltas
COMPACT_FILES = 16
# person ids are 3.7M distinct at 10M links: a dictionary would overflow its page and
# fall back to plain after hashing every value, so only the id type is dictionary-encoded
PARQUET = {"compression": "zstd", "compression_level": 1, "use_dictionary": ["id_type"]}


def _files(ws: Workspace, tbl: str, project: str) -> list[str]:
    return [str(ws.root / f.path) for f in store.live(ws, tbl, project)]


def source(ws: Workspace, project: str) -> str | None:
    """SQL text of the current map (a subquery over generated file paths, never user
    text), or None before the first resolve."""
    base = store.sql_source(ws, MAP, project)
    delta = store.sql_source(ws, DELTA, project)
    if delta is None:
        return base
    latest = f"(SELECT id_type, id, arg_max(person_id, gen) AS person_id FROM {delta} GROUP BY id_type, id)"
    if base is None:
        return latest
    return (f"(SELECT id_type, id, person_id FROM {base} ANTI JOIN {latest} USING (id_type, id)"
            f" UNION ALL SELECT id_type, id, person_id FROM {latest})")


def relation(ws: Workspace, project: str, con: duckdb.DuckDBPyConnection | None = None
             ) -> duckdb.DuckDBPyRelation:
    con = con or ws.con
    src = source(ws, project)
    if src is None:
        return con.from_arrow(MAP_SCHEMA.empty_table())
    return con.sql(f"SELECT id_type, id, person_id FROM {src}")


def write_base(ws: Workspace, project: str, data: pa.Table | duckdb.DuckDBPyRelation,
               kind: str = "identity") -> None:
    """Replace the whole map (base and deltas) by ``data`` in one commit."""
    retire = store.live(ws, MAP, project) + store.live(ws, DELTA, project)
    if isinstance(data, pa.Table):
        store.commit(ws, MAP, project, [data.select(MAP_SCHEMA.names)], retire=retire, kind=kind,
                     options=PARQUET)
    else:
        store.commit(ws, MAP, project, [data], retire=retire, kind=kind)


def write_delta(ws: Workspace, project: str, rows: pa.Table, kind: str = "identity") -> bool:
    """Append the new rows of touched persons; compacts when the deltas grew large.
    Returns whether it compacted."""
    deltas = store.live(ws, DELTA, project)
    gen = 1 + max((f.batch_id for f in deltas), default=0)
    table = rows.select(MAP_SCHEMA.names).add_column(3, "gen", pa.repeat(pa.scalar(gen, pa.int64()), rows.num_rows))
    store.commit(ws, DELTA, project, [table], kind=kind, options=PARQUET)
    deltas = store.live(ws, DELTA, project)
    base_rows = sum(f.rows for f in store.live(ws, MAP, project))
    delta_rows = sum(f.rows for f in deltas)
    if len(deltas) >= COMPACT_FILES or delta_rows > max(COMPACT_RATIO * base_rows, COMPACT_MIN_ROWS):
        compact(ws, project, kind)
        return True
    return False


def compact(ws: Workspace, project: str, kind: str = "identity") -> None:
    """Fold the deltas into a new base (readers see the old set or the new one)."""
    if not store.live(ws, DELTA, project):
        return
    src = source(ws, project)
    assert src is not None
    write_base(ws, project, ws.con.sql(f"SELECT id_type, id, person_id FROM {src}"), kind)


def _signature(ws: Workspace, project: str) -> str:
    paths = sorted(f.path for f in store.live(ws, MAP, project) + store.live(ws, DELTA, project))
    return hashlib.sha256("\n".join(paths).encode()).hexdigest()[:24]


def _key(project: str) -> str:
    return f"identity.map_counts:{project}"


def counts(ws: Workspace, project: str) -> tuple[int, int]:
    """(ids, persons) in the map: recorded by the last resolve for exactly the live map
    files (counting 11M ids again cost more than the incremental resolve itself), else
    counted (after erasure or retention rewrote the files) and recorded."""
    src = source(ws, project)
    if src is None:
        return 0, 0
    sig = _signature(ws, project)
    rows = ws.catalog.execute("SELECT value FROM meta WHERE key = ?", (_key(project),)).fetchall()
    if rows:
        doc = orjson.loads(rows[0][0])
        if doc.get("files") == sig:
            return int(doc["ids"]), int(doc["persons"])
    got = ws.con.execute(f"SELECT count(*), count(DISTINCT person_id) FROM {src}").fetchall()
    ids, persons = int(got[0][0]), int(got[0][1])
    record_counts(ws, project, ids, persons)
    return ids, persons


def record_counts(ws: Workspace, project: str, ids: int, persons: int) -> None:
    """Remember (ids, persons) for the live map files as they are now."""
    doc = orjson.dumps({"files": _signature(ws, project), "ids": ids, "persons": persons}).decode()
    with ws.catalog.transaction() as tx:
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_key(project), doc))
