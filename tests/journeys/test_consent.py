"""Persons who denied analytics consent are left out of every analysis, on both engines."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine, analysable_events
from cxlens.identity import resolve
from cxlens.journeys.funnels import funnel
from cxlens.journeys.funnels import spec_from_dict as funnel_spec
from cxlens.journeys.graph import graph
from cxlens.journeys.graph import spec_from_dict as graph_spec
from cxlens.journeys.paths import paths
from cxlens.journeys.paths import spec_from_dict as paths_spec
from cxlens.journeys.retention import retention
from cxlens.journeys.retention import spec_from_dict as retention_spec
from cxlens.store.workspace import Workspace
from support import journeys


def consent(at: str, analytics: str, **ids: str) -> dict[str, Any]:
    return {"at": at, "event": "Consent Updated", "properties": {"analytics": analytics}, **ids}


def shopper(day: str) -> list[dict[str, Any]]:
    return [{"at": f"{day} 10:00", "event": "Product Viewed"},
            {"at": f"{day} 10:05", "event": "Order Completed"}]


PEOPLE = {
    "ann": shopper("2024-05-01"),
    # browsed anonymously, logged in, bought, and later withdrew consent: all her events go
    "bea": [{"at": "2024-05-01 09:00", "event": "Product Viewed", "anonymous_id": "bea-phone"},
            {"at": "2024-05-01 09:01", "type": "identify", "anonymous_id": "bea-phone",
             "user_id": "bea"},
            {"at": "2024-05-01 09:05", "event": "Order Completed", "user_id": "bea"},
            consent("2024-05-02 08:00", "granted", user_id="bea"),
            consent("2024-05-03 08:00", "denied", user_id="bea")],
    # denied first, then granted again: counted
    "cem": [consent("2024-04-30 08:00", "denied"), *shopper("2024-05-01"),
            consent("2024-05-02 08:00", "granted")],
    # a decision about another purpose only: counted
    "dan": [*shopper("2024-05-01"),
            {"at": "2024-05-02 08:00", "event": "Consent Updated",
             "properties": {"marketing_email": "denied"}}],
}
ALL = {"ann", "bea", "cem", "dan"}
KEPT = {"ann", "cem", "dan"}


def names(ws: Workspace, persons: set[str]) -> set[str]:
    """User ids of resolved person ids."""
    from cxlens.identity import with_person

    rows = with_person(ws, ws.events()).filter("user_id IS NOT NULL").aggregate(
        "person_id, any_value(user_id)").fetchall()
    by_person = dict((str(p), str(u)) for p, u in rows)
    return {by_person[p] for p in persons}


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    ws.append(journeys(PEOPLE), source="test")
    resolve(ws)
    return ws


def test_analysable_events_leave_out_every_event_of_a_person_who_denied(shop: Workspace) -> None:
    rows = analysable_events(shop).aggregate("person_id, count(*)").fetchall()
    assert names(shop, {r[0] for r in rows}) == KEPT
    everything = shop.events().aggregate("count(*)").fetchall()[0][0]
    assert sum(r[1] for r in rows) == everything - 5  # bea's five, the anonymous one too


def test_a_person_who_withdrew_consent_disappears_from_every_analysis(shop: Workspace) -> None:
    engine = DuckDBEngine(shop)
    f = funnel(engine, funnel_spec({"steps": ["Product Viewed", "Order Completed"]}))
    assert [s.persons for s in f.steps] == [3, 3]
    assert names(shop, set(f.persons.column("person").to_pylist())) == KEPT
    p = paths(engine, paths_spec({"per_session": False}))
    assert p.persons == 3
    g = graph(engine, graph_spec({}))
    assert g.traces == 3
    assert g.dfg()[("Product Viewed", "Order Completed")] == 3
    r = retention(engine, retention_spec({"period": "day"}))
    assert sum(c.persons for c in r.cohorts) == 3 and r.buyers == 3


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_leaves_out_the_same_persons(shop: Workspace, spark: Any) -> None:
    from cxlens.engines.spark import SparkEngine
    from cxlens.engines.spark import analysable_events as spark_events

    on_spark = {r["person_id"] for r in spark_events(spark, shop).select("person_id")
                .distinct().collect()}
    assert names(shop, on_spark) == KEPT
    spec = funnel_spec({"steps": ["Product Viewed", "Order Completed"]})
    a = funnel(DuckDBEngine(shop), spec)
    b = funnel(SparkEngine(spark, shop, partitions=2), spec, check=False)
    assert a.to_dict() == b.to_dict()
    assert names(shop, set(b.persons.column("person").to_pylist())) == KEPT


def test_denied_wins_over_granted_at_the_same_time(ws: Workspace) -> None:
    """Two decisions in the same microsecond (two tabs, a replayed batch): not analysed,
    on DuckDB as on Spark."""
    from cxlens.privacy.consent import denied

    ws.append(journeys({"eva": [*shopper("2024-05-01"),
                                consent("2024-05-02 08:00", "granted"),
                                consent("2024-05-02 08:00", "denied")]}), source="test")
    resolve(ws)
    assert names(ws, set(denied(ws, None))) == {"eva"}
    assert analysable_events(ws).aggregate("count(*)").fetchall()[0][0] == 0
