"""DuckDBEngine: one DuckDB query prepares the sorted columns, the kernel runs in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.engines.base import Kernel, Prepared
from cxlens.engines.expr import Expr, to_sql
from cxlens.journeys.persons import PERSON_KEY
from cxlens.store.workspace import Workspace

#: the SQL path hands the kernel this many rows (whole persons) at a time: the prepared
#: rows of a busy day (50M events) as one Arrow table plus the kernel's arrays took
#: 4.5 GB in the dashboard's warming; DuckDB's sort itself stays under memory_limit
CHUNK_ROWS: Final = 1_000_000
_READ_ROWS: Final = 65_536


def person_chunks(reader: pa.RecordBatchReader, rows: int) -> Iterator[pa.Table]:
    """The batches of ``reader`` (sorted by person) regrouped into tables of about
    ``rows`` rows that never split a person (one person's rows may exceed ``rows``)."""
    held: list[pa.RecordBatch] = []
    n = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        held.append(batch)
        n += batch.num_rows
        if n < rows:
            continue
        # cut before the last person of the newest batch: the next batch may go on with it
        person = batch.column("person")
        same = pc.equal(person, person[batch.num_rows - 1])
        cut = batch.num_rows - int(pc.sum(same).as_py() or 0)  # sorted: a suffix
        if cut == 0:  # the whole batch is one person: keep gathering
            continue
        yield pa.Table.from_batches([*held[:-1], batch.slice(0, cut)])
        rest = batch.slice(cut)
        held, n = [rest], rest.num_rows
    if n:
        yield pa.Table.from_batches(held)


def prepared_sql(prep: Prepared, source: str) -> tuple[str, list[Any]]:
    """The SELECT that yields ``prep.schema()`` sorted by (person, ts, event, event_id).

    Events at the same time are ordered by name, then id: a rule anyone can reproduce
    from the data (files often hold many events per timestamp; their file order is lost).
    """
    params: list[Any] = []
    select = [f"{to_sql(PERSON_KEY, params)} AS person", "epoch_us(timestamp) AS ts"]
    if prep.flags:
        bits = [f"(CASE WHEN {to_sql(c, params)} THEN {1 << i} ELSE 0 END)"
                for i, c in enumerate(prep.flags)]
        select.append("CAST(" + " + ".join(bits) + " AS BIGINT) AS mask")
    for name, expr in prep.strings:
        select.append(f"CAST({to_sql(expr, params)} AS VARCHAR) AS \"{name}\"")
    where = [f"{to_sql(PERSON_KEY, params)} IS NOT NULL"]
    cond = prep.row_filter()
    if cond is not None:
        where.append(to_sql(cond, params))
    sql = (f"SELECT {', '.join(select)} FROM {source} WHERE {' AND '.join(where)} "
           "ORDER BY person, ts, coalesce(event, ''), event_id")
    return sql, params


def analysable(ws: Workspace, rel: duckdb.DuckDBPyRelation,
               project: str | None = None) -> duckdb.DuckDBPyRelation:
    """``rel`` (events of ``project``) as analyses see them: plus identity's ``person_id``,
    without every event of a person whose analytics consent is denied (docs/privacy.md)."""
    from cxlens.identity import with_person
    from cxlens.privacy.consent import honour_consent

    return honour_consent(ws, with_person(ws, rel, project), project)


def analysable_events(ws: Workspace, project: str | None = None) -> duckdb.DuckDBPyRelation:
    """The analysable events of ``project`` as a lazy DuckDB relation: every event column
    plus ``person_id`` (persons resolved), persons who denied analytics consent left out.
    The one entry point for anything that analyses events (journeys, dashboard, personas,
    voice), so all of them count the same persons."""
    return analysable(ws, ws.events(project), project)


class DuckDBEngine:
    """Runs analyses on a workspace's events with DuckDB (the default, one machine)."""

    name = "duckdb"

    def __init__(self, ws: Workspace, project: str | None = None, *,
                 sequences: bool = True, chunk_rows: int = CHUNK_ROWS) -> None:
        self.ws = ws
        self.project = project
        #: answer from the project's sequence cache when it is current (engines/sequences.py)
        self.sequences = sequences
        #: rows (whole persons) the kernel gets at a time on the SQL path
        self.chunk_rows = chunk_rows

    def _cached(self, prep: Prepared | None = None) -> Any:
        """The current sequence cache if it can answer ``prep``, else None (SQL path)."""
        if not self.sequences:
            return None
        from cxlens.engines import sequences

        if prep is not None and not sequences.servable(prep):
            return None
        return sequences.load(self.ws, self.project or self.ws.default_project)

    def _with_view(self, fn: Any) -> Any:
        def body(rel: duckdb.DuckDBPyRelation) -> Any:
            view = f"_cx_ev_{uuid.uuid4().hex[:12]}"  # unique: concurrent cursors share views
            analysable(self.ws, rel, self.project).create_view(view)
            try:
                return fn(view)
            finally:
                self.ws.con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()

        return self.ws.query(body, self.project)

    @contextmanager
    def _attributes_joined(self, view: str, prep: Prepared) -> Iterator[str]:
        """``view``, or with person attributes (persona, account, traits) the events
        view left-joined with their one-row-per-person table."""
        attrs = prep.attributes()
        if not attrs:
            yield view
            return
        from cxlens.journeys.attributes import attribute_table, join_sql

        table = attribute_table(self.ws, self.project, attrs, self.ws.con.view(view))
        name = f"_cx_attr_{uuid.uuid4().hex[:12]}"
        self.ws.con.register(name, table)
        try:
            yield join_sql(view, name, attrs)
        finally:
            self.ws.con.unregister(name)

    def run(self, prep: Prepared, kernel: Kernel, out_schema: pa.Schema) -> pa.Table:
        seq = self._cached(prep)
        if seq is not None:
            from cxlens.engines import sequences

            return sequences.run(seq, self.ws, prep, kernel, out_schema)
        schema = prep.schema()

        def stream(view: str) -> list[pa.Table]:
            outs: list[pa.Table] = []  # per call: a retried read starts afresh
            with self._attributes_joined(view, prep) as source:
                sql, params = prepared_sql(prep, source)
                reader = self.ws.con.sql(sql, params=params).to_arrow_reader(_READ_ROWS)
                for chunk in person_chunks(reader, self.chunk_rows):
                    outs.append(kernel(chunk.select(schema.names).cast(schema)).cast(out_schema))
            return outs

        outs: list[pa.Table] = self._with_view(stream)
        return pa.concat_tables(outs) if outs else out_schema.empty_table()

    def distinct(self, expr: Expr, limit: int = 10_000) -> list[str]:
        seq = self._cached(Prepared(strings=(("v", expr),)))
        if seq is not None:
            from cxlens.engines import sequences

            return sequences.distinct(seq, self.ws, expr, limit)

        def fetch(view: str) -> list[str]:
            params: list[Any] = []
            text = to_sql(expr, params)
            rows = self.ws.con.sql(
                f"SELECT DISTINCT CAST({text} AS VARCHAR) AS v FROM {view} WHERE v IS NOT NULL "
                f"LIMIT {int(limit)}", params=params).fetchall()
            return sorted(str(r[0]) for r in rows)

        result: list[str] = self._with_view(fetch)
        return result
