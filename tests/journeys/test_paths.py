"""Paths and Sankey data on declarative journeys."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.journeys.paths import PathsResult, PathsSpec, paths, spec_from_dict
from cxlens.journeys.steps import Match
from cxlens.store.workspace import Workspace
from support import journeys


def ev(at: str, event: str, **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, **kw}


def run(ws: Workspace, people: dict[str, list[dict[str, Any]]], **kw: Any) -> PathsResult:
    ws.append(journeys(people), source="test")
    return paths(DuckDBEngine(ws), PathsSpec(**kw), check=False)


def top(r: PathsResult) -> dict[tuple[str, ...], int]:
    return {p.steps: p.count for p in r.top}


PEOPLE = {
    "ann": [ev("2024-05-01 10:00", "Home"), ev("2024-05-01 10:01", "Product Viewed"),
            ev("2024-05-01 10:02", "Product Viewed"), ev("2024-05-01 10:03", "Product Added"),
            ev("2024-05-01 10:04", "Order Completed")],
    "ben": [ev("2024-05-01 10:00", "Home"), ev("2024-05-01 10:01", "Product Viewed"),
            ev("2024-05-01 10:02", "Search")],
    "cid": [ev("2024-05-01 10:00", "Search"), ev("2024-05-01 10:01", "Product Viewed"),
            ev("2024-05-01 10:02", "Product Added"),
            # a second session two hours later
            ev("2024-05-01 12:00", "Home"), ev("2024-05-01 12:01", "Product Viewed")],
}


def test_paths_per_session_collapse_repeats_and_count_share_of_persons(ws: Workspace) -> None:
    r = run(ws, PEOPLE, max_steps=3)
    assert top(r) == {("Home", "Product Viewed", "Product Added"): 1,
                      ("Home", "Product Viewed", "Search"): 1,
                      ("Search", "Product Viewed", "Product Added"): 1,
                      ("Home", "Product Viewed"): 1}
    assert r.persons == 3 and r.paths == 4


def test_paths_from_an_event_start_there(ws: Workspace) -> None:
    r = run(ws, PEOPLE, start=Match("Product Viewed"), max_steps=2)
    assert top(r) == {("Product Viewed", "Product Added"): 2, ("Product Viewed", "Search"): 1,
                      ("Product Viewed",): 1}
    first = r.top[0]
    assert first.persons == 2 and first.share_of_persons == pytest.approx(2 / 3)


def test_paths_to_an_event_end_there_across_sessions(ws: Workspace) -> None:
    r = run(ws, PEOPLE, end=Match("Product Added"), max_steps=3, per_session=False)
    assert top(r) == {("Home", "Product Viewed", "Product Added"): 1,
                      ("Search", "Product Viewed", "Product Added"): 1}


def test_sankey_links_count_persons_between_positions(ws: Workspace) -> None:
    r = run(ws, PEOPLE, max_steps=3)
    links = {(li.source, li.target): li.persons for li in r.links}
    assert links[("0:Home", "1:Product Viewed")] == 3
    assert links[("1:Product Viewed", "2:Product Added")] == 2
    nodes = {n.id: n.persons for n in r.nodes}
    assert nodes["0:Home"] == 3 and nodes["0:Search"] == 1


def test_bad_paths_spec_names_the_field() -> None:
    with pytest.raises(SpecError) as err:
        spec_from_dict({"max_steps": 1})
    assert err.value.field == "max_steps"
    with pytest.raises(SpecError) as err:
        spec_from_dict({"session": "0m"})
    assert err.value.field == "session"
