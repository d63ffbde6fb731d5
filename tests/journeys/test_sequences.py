"""The sequence cache answers exactly what the SQL path answers, and only while current."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from cxlens.engines import sequences
from cxlens.engines.local import DuckDBEngine
from cxlens.identity import resolve, unlink
from cxlens.journeys import funnels, graph, paths, retention, stages
from cxlens.journeys.touchpoints import EXAMPLES, load_definition
from cxlens.store.workspace import Workspace
from support import journeys

FUNNELS: list[dict[str, Any]] = [
    {"steps": ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"],
     "window": "7d", "breakdown": "device"},
    {"steps": ["Checkout Started", "Checkout Step Viewed", "Order Completed"], "window": "1d",
     "mode": "strict"},
    {"steps": ["Newsletter Opened", "Product Viewed", "Order Completed"], "window": "14d",
     "mode": "unordered", "breakdown": "channel"},
    {"steps": ["Product Viewed", "Checkout Started", "Order Completed"], "window": "3d",
     "exclusions": [{"event": "Ticket Created", "from_step": 1}], "breakdown": "channel",
     "since": "2024-01-10"},
    {"steps": ["Product Viewed", {"event": "Product Added", "optional": True},
               "Order Completed"], "window": "30d"},
    # a property filter: not a facet, so the SQL path answers
    {"steps": ["Product Viewed", {"event": "Checkout Step Viewed", "where": {"step": 3}}],
     "window": "7d"},
]
PATHS: list[dict[str, Any]] = [{"max_steps": 4}, {"start": "Product Viewed", "max_steps": 5},
                               {"end": "Order Completed", "max_steps": 4, "per_session": False}]
GRAPHS: list[dict[str, Any]] = [{}, {"per_session": True, "where": {"device": "mobile"}}]
RETENTION: list[dict[str, Any]] = [{"period": "week"}, {
    "period": "month", "returning": "Order Completed", "first": "Product Viewed"}]


def results(engine: DuckDBEngine) -> list[Any]:
    out: list[Any] = []
    for doc in FUNNELS:
        r = funnels.funnel(engine, funnels.spec_from_dict(doc))
        out += [r.to_dict(), r.persons.sort_by([("person", "ascending")])]
    out += [paths.paths(engine, paths.spec_from_dict(d)).to_dict() for d in PATHS]
    for doc in GRAPHS:
        g = graph.graph(engine, graph.spec_from_dict(doc))
        out += [g.to_dict(), g.variant_counts]
    out += [retention.retention(engine, retention.spec_from_dict(d)).to_dict()
            for d in RETENTION]
    st = stages.stages(engine, stages.StagesSpec(load_definition(EXAMPLES / "b2c.toml")))
    out += [st.to_dict(), st.persons.sort_by([("person", "ascending")])]
    return out


def assert_cache_answers_like_sql(ws: Workspace, project: str) -> None:
    cached = DuckDBEngine(ws, project)
    assert cached._cached() is not None, "the cache should be current"
    assert results(cached) == results(DuckDBEngine(ws, project, sequences=False))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from cxlens.simulate import simulate

    ws = Workspace.init(Path(tmp_path_factory.mktemp("seq")) / "ws", project="shop")
    simulate(ws, business="shop", customers=600, seed=3, project="shop", days=30)
    resolve(ws, "shop")
    yield ws
    ws.close()


def test_every_analysis_from_the_cache_equals_the_sql_path(shop: Workspace) -> None:
    info = sequences.build(shop, "shop")
    assert info["built"] and info["rows"] > 10_000
    assert sequences.build(shop, "shop")["built"] is False  # current: nothing to do
    # the facet-only analyses are served by the cache, a property filter is not
    assert sequences.servable(funnels._prepared(funnels.spec_from_dict(FUNNELS[0])))
    assert not sequences.servable(funnels._prepared(funnels.spec_from_dict(FUNNELS[-1])))
    by_persona = funnels.spec_from_dict({**FUNNELS[0], "breakdown": "persona"})
    assert not sequences.servable(funnels._prepared(by_persona))  # a join: the SQL path
    assert_cache_answers_like_sql(shop, "shop")
    engine = DuckDBEngine(shop, "shop")
    assert engine.distinct(paths.ITEM) == DuckDBEngine(shop, "shop", sequences=False).distinct(
        paths.ITEM)


def test_any_change_makes_the_cache_stale_and_answers_stay_right(tmp_path: Path) -> None:
    from cxlens.privacy.erase import erase
    from cxlens.simulate import simulate

    ws = Workspace.init(tmp_path / "ws", project="shop")
    simulate(ws, business="shop", customers=150, seed=5, project="shop", days=20)
    resolve(ws, "shop")
    sequences.build(ws, "shop")
    spec = funnels.spec_from_dict(FUNNELS[0])
    before = funnels.funnel(DuckDBEngine(ws, "shop"), spec)
    person = before.persons.column("person")[0].as_py()

    # an append: stale at once, the SQL path answers (with the new events)
    ws.append(journeys({person: [{"at": "2024-03-01 10:00", "event": "Product Viewed"}]}),
              source="test", project="shop")
    assert sequences.load(ws, "shop") is None
    assert DuckDBEngine(ws, "shop")._cached() is None
    sequences.build(ws, "shop")
    assert_cache_answers_like_sql(ws, "shop")

    # identity changes: an unlink
    links = ws.con.sql(
        "SELECT id_a, id_b FROM read_parquet(?) WHERE id_type_a <> id_type_b LIMIT 1",
        params=[[str(ws.root / f.path) for f in ws.catalog.live_files("identities", "shop")]],
    ).fetchall()
    assert links
    unlink(ws, "shop", links[0][0], links[0][1])
    assert sequences.load(ws, "shop") is None
    sequences.build(ws, "shop")
    assert_cache_answers_like_sql(ws, "shop")

    # erasure: the person is gone from the cache's answers too
    erase(ws, "shop", person)
    assert sequences.load(ws, "shop") is None
    sequences.build(ws, "shop")
    after = funnels.funnel(DuckDBEngine(ws, "shop"), spec)
    assert person not in after.persons.column("person").to_pylist()
    assert_cache_answers_like_sql(ws, "shop")

    # a person who denies analytics consent leaves the cached answers as the SQL ones
    other = next(p for p in after.persons.column("person").to_pylist() if p != person)
    ws.append(journeys({other: [{"at": "2024-03-02 10:00", "event": "Consent Updated",
                                 "properties": {"analytics": "denied"}}]}),
              source="test", project="shop")
    assert sequences.load(ws, "shop") is None
    sequences.build(ws, "shop")
    denied = funnels.funnel(DuckDBEngine(ws, "shop"), spec)
    assert other not in denied.persons.column("person").to_pylist()
    assert_cache_answers_like_sql(ws, "shop")

    # compaction rewrites files: stale again, same answers after the rebuild
    ws.compact("shop")
    assert sequences.load(ws, "shop") is None
    sequences.build(ws, "shop")
    assert_cache_answers_like_sql(ws, "shop")


def test_events_at_the_same_time_keep_the_engines_order(ws: Workspace) -> None:
    """Equal (person, time, event): the event id decides, as on the SQL path."""
    def page(at: str, path: str, event_id: str) -> dict[str, Any]:
        return {"at": at, "type": "page", "event": None, "event_id": event_id,
                "context": {"page": {"path": path}}}

    people = {
        "ann": [page("2024-05-01 10:00", "/b", "id-2"), page("2024-05-01 10:00", "/a", "id-9"),
                page("2024-05-01 10:00", "/c", "id-1"),
                {"at": "2024-05-01 10:00", "event": "Product Viewed", "event_id": "id-0"},
                page("2024-05-01 10:01", "/d", "id-5")],
        "ben": [page("2024-05-01 10:00", "/c", "x-1"), page("2024-05-01 10:00", "/a", "x-0")],
    }
    ws.append(journeys(people), source="test")
    sequences.build(ws, ws.default_project)
    spec = paths.spec_from_dict({"max_steps": 6, "collapse_repeats": False})
    cached = paths.paths(DuckDBEngine(ws), spec)
    sql = paths.paths(DuckDBEngine(ws, sequences=False), spec)
    assert cached.to_dict() == sql.to_dict()
    tops = {tuple(p["steps"]) for p in cached.to_dict()["top"]}
    assert ("/c", "/b", "/a", "Product Viewed", "/d") in tops


def test_an_empty_project_builds_an_empty_cache(ws: Workspace) -> None:
    info = sequences.build(ws, ws.default_project)
    assert info["rows"] == 0
    empty = funnels.funnel(DuckDBEngine(ws), funnels.spec_from_dict(
        {"steps": ["A", "B"]}), check=False)
    assert empty.steps[0].persons == 0
    assert isinstance(empty.persons, pa.Table)
