"""DuckDBEngine's SQL path hands the kernel whole persons a bounded number of rows at a
time; every analysis gives the same answer however small the chunks are."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cxlens.engines.local import DuckDBEngine, person_chunks
from cxlens.store.workspace import Workspace


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from cxlens.simulate import simulate

    ws = Workspace.init(Path(tmp_path_factory.mktemp("chunks")) / "ws", project="shop")
    simulate(ws, business="shop", customers=300, seed=11, project="shop", days=30)
    yield ws
    ws.close()


def _funnel(engine: Any) -> Any:
    from cxlens.journeys.funnels import funnel, spec_from_dict

    return funnel(engine, spec_from_dict({
        "steps": ["Product Viewed", "Product Added", "Order Completed"], "window": "7d",
        "breakdown": "channel"}))


def _paths(engine: Any) -> Any:
    from cxlens.journeys.paths import paths, spec_from_dict

    return paths(engine, spec_from_dict({"max_steps": 4}))


def _graph(engine: Any) -> Any:
    from cxlens.journeys.graph import graph, spec_from_dict

    return graph(engine, spec_from_dict({"per_session": True}))


def _retention(engine: Any) -> Any:
    from cxlens.journeys.retention import retention, spec_from_dict

    return retention(engine, spec_from_dict({"period": "week"}))


def _stages(engine: Any) -> Any:
    from cxlens.journeys.stages import StagesSpec, stages
    from cxlens.journeys.touchpoints import EXAMPLES, load_definition

    return stages(engine, StagesSpec(load_definition(EXAMPLES / "b2c.toml")))


ANALYSES: dict[str, Callable[[Any], Any]] = {
    "funnel": _funnel, "paths": _paths, "graph": _graph, "retention": _retention,
    "stages": _stages}


@pytest.mark.parametrize("name", list(ANALYSES))
def test_an_analysis_is_the_same_in_small_person_chunks(shop: Workspace, name: str) -> None:
    whole = DuckDBEngine(shop, "shop", sequences=False)
    chunked = DuckDBEngine(shop, "shop", sequences=False, chunk_rows=50)
    a, b = ANALYSES[name](whole), ANALYSES[name](chunked)
    assert a.to_dict() == b.to_dict()


def test_chunks_never_split_a_person() -> None:
    persons = ["a"] * 5 + ["b"] * 3 + ["c"] * 9 + ["d"]
    table = pa.table({"person": persons, "ts": list(range(len(persons)))})
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=4))
    chunks = list(person_chunks(reader, 4))
    assert sum(c.num_rows for c in chunks) == len(persons)
    assert [c.column("ts").to_pylist() for c in chunks] == [
        list(range(0, 5)), list(range(5, 17)), [17]]
    seen = [set(c.column("person").to_pylist()) for c in chunks]
    for i, s in enumerate(seen):
        assert not any(s & other for other in seen[i + 1:])
