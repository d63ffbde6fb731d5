"""Journey definitions, stage state per person and suggestions for uncovered events."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.journeys.stages import StagesSpec, stages
from cxlens.journeys.touchpoints import (
    EXAMPLES,
    definition_from_dict,
    load_definition,
    suggest,
)
from cxlens.store.workspace import Workspace
from support import journeys


def ev(at: str, event: str, **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, **kw}


@pytest.mark.parametrize("name", ["b2c", "b2b"])
def test_shipped_definitions_load(name: str) -> None:
    d = load_definition(EXAMPLES / f"{name}.toml")
    assert len(d.stages) == 5 and d.touchpoints


def test_stage_history_current_and_furthest_stage(ws: Workspace) -> None:
    ws.append(journeys({
        "ida": [ev("2024-05-01 10:00", "Newsletter Opened"), ev("2024-05-02 10:00", "Product Viewed"),
                ev("2024-05-02 10:05", "Product Added"), ev("2024-05-02 10:09", "Order Completed"),
                ev("2024-05-04 10:00", "Order Delivered"), ev("2024-05-05 10:00", "Product Viewed")],
        "jan": [ev("2024-05-03 10:00", "Product Viewed")],
    }), source="test")
    d = load_definition(EXAMPLES / "b2c.toml")
    r = stages(DuckDBEngine(ws), StagesSpec(d))
    rows = {p["person"]: p for p in r.persons.to_pylist()}
    assert rows["ida"]["history"] == ["Aufmerksamkeit", "Erwägung", "Kauf", "Lieferung", "Erwägung"]
    assert rows["ida"]["current"] == "Erwägung" and rows["ida"]["furthest"] == "Lieferung"
    summary = {s.stage: (s.current, s.reached) for s in r.stages}
    assert summary["Erwägung"] == (2, 2) and summary["Kauf"] == (0, 1)
    jan = next(s for s in r.stages if s.stage == "Erwägung")
    assert jan.median_days_in_stage is not None


def test_definition_errors_name_the_field() -> None:
    with pytest.raises(SpecError) as err:
        definition_from_dict({"name": "x", "stages": ["A"], "touchpoints": [
            {"name": "T", "event": "E", "stage": "B"}]})
    assert err.value.field == "touchpoints[0].stage"
    with pytest.raises(SpecError) as err:
        definition_from_dict({"name": "x", "stages": ["A"], "touchpoints": [
            {"name": "T", "stage": "A"}]})
    assert err.value.field == "touchpoints[0]"


def test_suggest_uses_german_and_english_names_and_position_to_purchase() -> None:
    d = load_definition(EXAMPLES / "b2c.toml")
    out = {s.event: s.stage for s in suggest(d, [
        ("Retoure angemeldet", 10, 0.95, None), ("Wishlist Added", 5, 0.1, None),
        ("Mystery", 3, 0.9, None), ("Product Viewed", 100, 0.2, None)])}
    assert out == {"Retoure angemeldet": "Lieferung", "Wishlist Added": "Erwägung",
                   "Mystery": "Lieferung"}


def test_touchpoints_serve_as_funnel_steps_and_path_items(ws: Workspace) -> None:
    from cxlens.journeys.analyses import run_document

    ws.append(journeys({
        "kai": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Checkout Started"),
                ev("2024-05-01 10:02", "Checkout Step Viewed"), ev("2024-05-01 10:03", "Order Completed")],
        "liv": [ev("2024-05-01 10:00", "Product Viewed")],
    }), source="test")
    engine = DuckDBEngine(ws)
    doc = run_document(engine, "funnel", {"journey": "b2c", "steps": [
        {"touchpoint": "Produktseite"}, {"touchpoint": "Checkout"},
        {"touchpoint": "Bestellung"}]}, ws.root)
    assert [s["persons"] for s in doc["steps"]] == [2, 1, 1]
    assert doc["steps"][1]["name"] == "Checkout"
    paths = run_document(engine, "paths", {"journey": "b2c", "start": "Produktseite"}, ws.root)
    assert [p["steps"] for p in paths["top"]] == [["Produktseite"],
                                                  ["Produktseite", "Checkout", "Bestellung"]]
    with pytest.raises(SpecError) as err:
        run_document(engine, "funnel", {"journey": "b2c", "steps": [{"touchpoint": "Nope"}]},
                     ws.root)
    assert err.value.field == "steps[0].touchpoint"
