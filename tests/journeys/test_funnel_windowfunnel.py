"""Ordered funnels agree with ClickHouse's windowFunnel (through chdb) on random events,
including events exactly at the window boundary and at equal timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxlens.engines.local import prepared_sql
from cxlens.journeys.funnels import FunnelSpec, Step, _prepared, kernel
from cxlens.journeys.steps import Match

chdb = pytest.importorskip(
    "chdb", reason="chdb not installed (pip install 'cxlens[dev]'): the windowFunnel oracle")

NAMES = "abcd"
BASE = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())

events_st = st.lists(
    st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(0, 12), st.sampled_from(NAMES)),
    min_size=1, max_size=25,
)


def our_levels(events: list[tuple[str, int, str]], names: list[str], window: int) -> dict[str, int]:
    spec = FunnelSpec(tuple(Step(Match(n)) for n in names), window_seconds=window)
    table = pa.table({
        "event_id": [f"e{i}" for i in range(len(events))],
        "timestamp": pa.array([datetime.fromtimestamp(BASE + t, UTC) for _, t, _ in events],
                              pa.timestamp("us", tz="UTC")),
        "event": [e for *_, e in events],
        "user_id": [p for p, *_ in events],
        "anonymous_id": pa.nulls(len(events), pa.string()),
        "person_id": [p for p, *_ in events],  # what the engines add from identity resolution
    })
    con = duckdb.connect()
    con.register("ev", table)
    sql, params = prepared_sql(_prepared(spec), "ev")
    prepared = con.sql(sql, params=params).to_arrow_table()
    out = kernel(spec)(prepared) if prepared.num_rows else None
    if out is None:
        return {}
    return dict(zip(out.column("person").to_pylist(), out.column("level").to_pylist(), strict=True))


def ch_levels(events: list[tuple[str, int, str]], names: list[str], window: int) -> dict[str, int]:
    rows = ", ".join(f"('{p}', {BASE + t}, '{e}')" for p, t, e in events)  # generated, not user text
    conds = ", ".join(f"e = '{n}'" for n in names)
    res = chdb.query(
        f"SELECT p, windowFunnel({window})(t, {conds}) AS level "
        f"FROM values('p String, t UInt64, e String', {rows}) GROUP BY p", "CSV").data()
    levels = {}
    for line in res.strip().splitlines():
        p, level = line.split(",")
        if int(level) > 0:
            levels[p.strip('"')] = int(level)
    return levels


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=events_st, names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=4),
       window=st.integers(1, 6))
def test_ordered_levels_equal_clickhouse_window_funnel(
        events: list[tuple[str, int, str]], names: list[str], window: int) -> None:
    assert our_levels(events, names, window) == ch_levels(events, names, window)


def test_boundary_and_ties_match_clickhouse() -> None:
    cases = [
        [("p1", 0, "a"), ("p1", 5, "b")],  # exactly at the window: inside
        [("p1", 0, "a"), ("p1", 6, "b")],  # one second past: outside
        [("p1", 3, "b"), ("p1", 3, "a"), ("p1", 3, "c")],  # all at one timestamp
        [("p1", 0, "a"), ("p1", 4, "a"), ("p1", 8, "b"), ("p1", 9, "c")],  # restart
    ]
    for events in cases:
        assert our_levels(events, ["a", "b", "c"], 5) == ch_levels(events, ["a", "b", "c"], 5)
