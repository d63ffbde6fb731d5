"""Journey analyses count resolved persons, on DuckDB and on Spark alike."""

from __future__ import annotations

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.identity import resolve
from cxlens.journeys.funnels import FunnelSpec, Step, funnel
from cxlens.journeys.steps import Match
from cxlens.store.workspace import Workspace
from support import journeys

# Lena browses on her phone, adds to cart on her laptop and only logs in to buy.
LENA = {"lena": [
    {"at": "2024-05-01 10:00", "event": "Product Viewed", "anonymous_id": "phone-1"},
    {"at": "2024-05-01 10:05", "event": "Product Added", "anonymous_id": "laptop-1"},
    {"at": "2024-05-01 10:06", "type": "identify", "anonymous_id": "laptop-1", "user_id": "lena"},
    {"at": "2024-05-01 10:07", "type": "identify", "anonymous_id": "phone-1", "user_id": "lena"},
    {"at": "2024-05-01 10:08", "event": "Order Completed", "user_id": "lena"},
]}
SPEC = FunnelSpec(
    tuple(Step(Match(n)) for n in ("Product Viewed", "Product Added", "Order Completed")),
    window_seconds=3600,
)


def test_a_person_on_two_devices_converts_once_after_identity_resolution(ws: Workspace) -> None:
    ws.append(journeys(LENA), source="test")
    before = funnel(DuckDBEngine(ws), SPEC, check=False)
    assert (before.steps[0].persons, before.steps[-1].persons) == (1, 0)
    resolve(ws)
    after = funnel(DuckDBEngine(ws), SPEC, check=False)
    assert [s.persons for s in after.steps] == [1, 1, 1]


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_counts_the_same_resolved_persons(ws: Workspace, spark) -> None:  # type: ignore[no-untyped-def]
    from cxlens.engines.spark import SparkEngine

    ws.append(journeys(LENA), source="test")
    resolve(ws)
    duck = funnel(DuckDBEngine(ws), SPEC, check=False)
    on_spark = funnel(SparkEngine(spark, ws), SPEC, check=False)
    assert [s.persons for s in on_spark.steps] == [s.persons for s in duck.steps] == [1, 1, 1]


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_spark_sees_persons_joined_by_an_incremental_resolve(ws: Workspace, spark) -> None:  # type: ignore[no-untyped-def]
    """The second resolve only appends the touched persons to the id map (a delta file):
    Spark must read it as DuckDB does, or the phone would stay a person of its own."""
    from cxlens.engines.spark import SparkEngine
    from cxlens.identity.idmap import DELTA

    first, later = LENA["lena"][1:3], [LENA["lena"][0], *LENA["lena"][3:]]
    ws.append(journeys({"lena": first}), source="test")
    resolve(ws)
    ws.append(journeys({"lena": later}), source="test")
    resolve(ws)
    assert ws.catalog.live_files(DELTA, ws.default_project), "the second resolve wrote a delta"
    duck = funnel(DuckDBEngine(ws), SPEC, check=False)
    on_spark = funnel(SparkEngine(spark, ws), SPEC, check=False)
    assert [s.persons for s in on_spark.steps] == [s.persons for s in duck.steps] == [1, 1, 1]
