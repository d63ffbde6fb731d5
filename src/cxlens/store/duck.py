"""DuckDB connections that give the same answers on every machine.

DuckDB takes its session time zone from the machine, and every cast of a
``TIMESTAMPTZ`` to a date, every ``date_trunc`` and every ``to_json`` of a timestamp
follows it: on a Berlin laptop an event at 23:30 UTC counted for the next day, while
the data model (docs/data-model.md) and the Spark engine (``spark.sql.session.timeZone``)
say UTC. ``SET GLOBAL`` so that the connection's cursors inherit it.
"""

from __future__ import annotations

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection whose dates and times are UTC."""
    con = duckdb.connect()
    con.execute("SET GLOBAL TimeZone = 'UTC'").fetchall()
    return con
