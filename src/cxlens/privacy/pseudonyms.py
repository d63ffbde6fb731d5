"""Pseudonymisation at ingest: user ids and e-mail addresses replaced by keyed hashes
before anything reaches the workspace's Parquet files.

Every path into the workspace (importers, the collector's writer, the simulator) goes
through ``Workspace.append``, which calls ``pseudonymising_view`` here; so the rule is
applied in one place, with the one implementation in ``settings.pseudonymise``.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from cxlens.privacy.settings import privacy_settings, pseudonymise

if TYPE_CHECKING:
    import duckdb

    from cxlens.store.workspace import Workspace

EMAIL_KEYS = frozenset({"email", "e-mail", "e_mail", "mail", "$email"})


def _hash_ids(settings: dict[str, Any], values: pa.Array) -> pa.Array:
    return pa.array([pseudonymise(settings, v) for v in values.to_pylist()], pa.string())


def _hash_emails_in(settings: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (pseudonymise(settings, v) if k.lower() in EMAIL_KEYS and isinstance(v, str)
                else _hash_emails_in(settings, v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hash_emails_in(settings, v) for v in value]
    return value


def _hash_json(settings: dict[str, Any], values: pa.Array) -> pa.Array:
    out: list[str | None] = []
    for text in values.to_pylist():
        if text is None or "mail" not in text:
            out.append(text)
            continue
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            out.append(text)
            continue
        out.append(orjson.dumps(_hash_emails_in(settings, doc)).decode())
    return pa.array(out, pa.string())


def pseudonymising_view(
    ws: Workspace, con: duckdb.DuckDBPyConnection, project: str, columns: set[str], source: str
) -> str:
    """The name of a view over ``source`` with ids and e-mails pseudonymised, or
    ``source`` itself when the project does not ask for it."""
    settings = privacy_settings(ws, project)
    if not settings.get("pseudonymise"):
        return source
    pseudonymise(settings, "check")  # a missing secret fails here, before anything is read
    import duckdb as _duckdb
    from duckdb.func import ARROW

    for name, fn in (("_cx_ps_id", _hash_ids), ("_cx_ps_json", _hash_json)):
        with contextlib.suppress(_duckdb.Error):
            con.remove_function(name)
        con.create_function(
            name, partial(fn, settings), ["varchar"], "varchar",
            type=ARROW, side_effects=False,
        )
    replace = ["_cx_ps_id(CAST(user_id AS VARCHAR)) AS user_id"] if "user_id" in columns else []
    replace += [f"_cx_ps_json(CAST({c} AS VARCHAR)) AS {c}" for c in ("properties", "context")
                if c in columns]
    if not replace:
        return source
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW _append_ps AS SELECT * REPLACE ({', '.join(replace)}) "
        f"FROM {source}"
    ).fetchall()
    return "_append_ps"
