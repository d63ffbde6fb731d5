"""Every journey analysis gives identical results on DuckDBEngine and SparkEngine.

One simulated shop (2,000 customers over 30 days) is generated once for the module and
each analysis runs on both engines; results are compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.engines.spark import SparkEngine
from cxlens.journeys.funnels import FunnelSpec, funnel, spec_from_dict
from cxlens.store.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from cxlens.simulate import simulate

    ws = Workspace.init(Path(tmp_path_factory.mktemp("parity")) / "ws", project="shop")
    simulate(ws, business="shop", customers=2000, seed=7, project="shop", days=30)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def engines(shop: Workspace, spark: Any) -> tuple[DuckDBEngine, SparkEngine]:
    from cxlens.engines import sequences

    # DuckDB answers from the sequence cache where it can (tests/journeys/test_sequences.py
    # shows the cache equals DuckDB's SQL path), so Spark is compared with both paths
    sequences.build(shop, "shop")
    return DuckDBEngine(shop, "shop"), SparkEngine(spark, shop, "shop", partitions=3)


def same_table(a: pa.Table, b: pa.Table, key: list[str]) -> None:
    order = [(k, "ascending") for k in key]
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows
    assert a.sort_by(order).equals(b.sort_by(order))


FUNNELS = {
    "ordered": {"steps": ["Product Viewed", "Product Added", "Checkout Started",
                          {"event": "Checkout Step Viewed", "where": {"step": 3}},
                          "Order Completed"], "window": "7d", "breakdown": "device"},
    "strict": {"steps": ["Checkout Started", "Checkout Step Viewed", "Order Completed"],
               "window": "1d", "mode": "strict"},
    "unordered": {"steps": ["Newsletter Opened", "Product Viewed", "Order Completed"],
                  "window": "14d", "mode": "unordered", "breakdown": "channel"},
    "exclusion": {"steps": ["Product Viewed", "Checkout Started", "Order Completed"],
                  "window": "3d", "exclusions": [{"event": "Ticket Created", "from_step": 1}],
                  "breakdown": "channel"},
    "optional": {"steps": ["Product Viewed", {"event": "Product Added", "optional": True},
                           "Order Completed"], "window": "30d"},
}


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_is_identical_on_duckdb_and_spark(engines: tuple[Any, Any], name: str) -> None:
    duck, spark = engines
    spec: FunnelSpec = spec_from_dict(FUNNELS[name])
    a, b = funnel(duck, spec), funnel(spark, spec, check=False)
    assert a.steps[0].persons > 0
    same_table(a.persons, b.persons, ["person"])
    assert a.to_dict() == b.to_dict()


PATHS = {
    "sessions": {"max_steps": 4},
    "from_product": {"start": "Product Viewed", "max_steps": 5},
    "to_order": {"end": "Order Completed", "max_steps": 4, "per_session": False},
}


@pytest.mark.parametrize("name", list(PATHS))
def test_paths_are_identical_on_duckdb_and_spark(engines: tuple[Any, Any], name: str) -> None:
    from cxlens.journeys.paths import paths, spec_from_dict

    duck, spark = engines
    spec = spec_from_dict(PATHS[name])
    a, b = paths(duck, spec), paths(spark, spec, check=False)
    assert a.paths > 0
    assert a.to_dict() == b.to_dict()


@pytest.mark.parametrize("doc", [{}, {"per_session": True, "where": {"device": "mobile"}}])
def test_graph_is_identical_on_duckdb_and_spark(engines: tuple[Any, Any],
                                                doc: dict[str, Any]) -> None:
    from cxlens.journeys.graph import graph, spec_from_dict

    duck, spark = engines
    spec = spec_from_dict(doc)
    a, b = graph(duck, spec), graph(spark, spec)
    assert a.traces > 0
    assert a.to_dict() == b.to_dict()
    assert a.variant_counts == b.variant_counts


@pytest.mark.parametrize("doc", [{"period": "week"},
                                 {"period": "month", "returning": "Order Completed",
                                  "first": "Product Viewed"}])
def test_retention_is_identical_on_duckdb_and_spark(engines: tuple[Any, Any],
                                                    doc: dict[str, Any]) -> None:
    from cxlens.journeys.retention import retention, spec_from_dict

    duck, spark = engines
    spec = spec_from_dict(doc)
    a, b = retention(duck, spec), retention(spark, spec, check=False)
    assert a.cohorts
    assert a.to_dict() == b.to_dict()


def test_journey_stages_are_identical_on_duckdb_and_spark(engines: tuple[Any, Any]) -> None:
    from cxlens.journeys.stages import StagesSpec, stages
    from cxlens.journeys.touchpoints import EXAMPLES, load_definition

    duck, spark = engines
    spec = StagesSpec(load_definition(EXAMPLES / "b2c.toml"))
    a, b = stages(duck, spec), stages(spark, spec)
    assert a.persons.num_rows > 0
    assert a.to_dict() == b.to_dict()
    same_table(a.persons, b.persons, ["person"])


def test_touchpoint_paths_are_identical_on_duckdb_and_spark(engines: tuple[Any, Any]) -> None:
    from cxlens.journeys.paths import paths, spec_from_dict
    from cxlens.journeys.touchpoints import EXAMPLES, load_definition

    duck, spark = engines
    spec = spec_from_dict({"start": "Produktseite", "max_steps": 4},
                          load_definition(EXAMPLES / "b2c.toml"))
    assert paths(duck, spec).to_dict() == paths(spark, spec, check=False).to_dict()
