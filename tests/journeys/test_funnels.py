"""Funnel behaviour on declarative journeys (DuckDB engine)."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.journeys.funnels import (
    Exclusion,
    FunnelResult,
    FunnelSpec,
    Step,
    funnel,
    spec_from_dict,
)
from cxlens.journeys.steps import Filter, Match
from cxlens.store.workspace import Workspace
from support import journeys

SHOP = ("Product Viewed", "Product Added", "Order Completed")


def steps(*names: str, optional: tuple[int, ...] = ()) -> tuple[Step, ...]:
    return tuple(Step(Match(n), optional=i in optional) for i, n in enumerate(names))


def run(ws: Workspace, people: dict[str, list[dict[str, Any]]], **kw: Any) -> FunnelResult:
    ws.append(journeys(people), source="test")
    kw.setdefault("steps", steps(*SHOP))
    kw.setdefault("window_seconds", 86400)
    return funnel(DuckDBEngine(ws), FunnelSpec(**kw), check=False)


def levels(result: FunnelResult) -> dict[str, int]:
    return dict(zip(result.persons.column("person").to_pylist(),
                    result.persons.column("level").to_pylist(), strict=True))


def ev(at: str, event: str, **kw: Any) -> dict[str, Any]:
    return {"at": at, "event": event, **kw}


def test_ordered_funnel_counts_each_step_and_lists_who_dropped(ws: Workspace) -> None:
    r = run(ws, {
        "alice": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:05", "Product Added"),
                  ev("2024-05-01 10:09", "Order Completed")],
        "bob": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 11:00", "Product Added")],
        "carol": [ev("2024-05-01 10:00", "Product Viewed")],
        "dave": [ev("2024-05-01 10:00", "Order Completed")],  # never entered
    })
    assert [s.persons for s in r.steps] == [3, 2, 1]
    assert [s.dropped for s in r.steps] == [0, 1, 1]
    assert r.dropped_at(2) == ["carol"] and r.dropped_at(3) == ["bob"]
    assert r.steps[2].conversion == pytest.approx(1 / 3)
    assert r.time_to_convert.converted == 1 and r.time_to_convert.median_seconds == 540


def test_events_out_of_order_do_not_advance_the_funnel(ws: Workspace) -> None:
    r = run(ws, {"eve": [ev("2024-05-01 10:00", "Product Added"),
                         ev("2024-05-01 10:05", "Product Viewed")]})
    assert levels(r) == {"eve": 1}


def test_window_is_measured_from_the_first_step_and_is_inclusive(ws: Workspace) -> None:
    r = run(ws, {
        "edge": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:30", "Product Added"),
                 ev("2024-05-02 10:00", "Order Completed")],  # exactly 1 day after step 1
        "late": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-02 09:00", "Product Added"),
                 ev("2024-05-02 10:00:01", "Order Completed")],
    })
    assert levels(r) == {"edge": 3, "late": 2}


def test_a_later_first_step_restarts_the_window(ws: Workspace) -> None:
    r = run(ws, {"frank": [ev("2024-05-01 10:00", "Product Viewed"),
                           ev("2024-05-03 10:00", "Product Viewed"),
                           ev("2024-05-03 10:10", "Product Added"),
                           ev("2024-05-03 10:20", "Order Completed")]})
    assert levels(r) == {"frank": 3}
    assert r.time_to_convert.median_seconds == 1200


def test_equal_timestamps_chain_in_step_order_like_window_funnel(ws: Workspace) -> None:
    r = run(ws, {"gina": [ev("2024-05-01 10:00", "Product Added"),
                          ev("2024-05-01 10:00", "Product Viewed")]})
    assert levels(r) == {"gina": 2}


def test_strict_funnel_breaks_on_interleaved_event(ws: Workspace) -> None:
    r = run(ws, {
        "hank": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Help Viewed"),
                 ev("2024-05-01 10:02", "Product Added"), ev("2024-05-01 10:03", "Order Completed")],
        "ivy": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:02", "Product Added"),
                ev("2024-05-01 10:03", "Order Completed")],
    }, mode="strict")
    assert levels(r) == {"hank": 1, "ivy": 3}


def test_unordered_funnel_counts_steps_in_any_order_within_the_window(ws: Workspace) -> None:
    r = run(ws, {
        "jo": [ev("2024-05-01 10:00", "Order Completed"), ev("2024-05-01 10:01", "Product Added"),
               ev("2024-05-01 10:02", "Product Viewed")],
        "kim": [ev("2024-05-01 10:00", "Product Added"), ev("2024-05-03 10:00", "Product Viewed")],
    }, mode="unordered")
    assert levels(r) == {"jo": 3, "kim": 1}


def test_exclusion_between_steps_voids_the_attempt(ws: Workspace) -> None:
    r = run(ws, {
        "lea": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Ticket Created"),
                ev("2024-05-01 10:02", "Product Added"), ev("2024-05-01 10:03", "Order Completed")],
        "max": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Ticket Created"),
                ev("2024-05-01 10:05", "Product Viewed"), ev("2024-05-01 10:06", "Product Added"),
                ev("2024-05-01 10:07", "Order Completed")],
    }, exclusions=(Exclusion(Match("Ticket Created"), 1, 3),))
    assert levels(r) == {"lea": 1, "max": 3}


def test_optional_step_may_be_skipped(ws: Workspace) -> None:
    r = run(ws, {
        "ned": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:03", "Order Completed")],
        "ola": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Product Added"),
                ev("2024-05-01 10:03", "Order Completed")],
    }, steps=steps(*SHOP, optional=(1,)))
    assert levels(r) == {"ned": 3, "ola": 3}
    assert [s.persons for s in r.steps] == [2, 1, 2]


def test_per_step_window_bounds_time_since_previous_step(ws: Workspace) -> None:
    spec_steps = (Step(Match("Product Viewed")), Step(Match("Product Added")),
                  Step(Match("Order Completed"), step_window_seconds=600))
    r = run(ws, {
        "pia": [ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Product Added"),
                ev("2024-05-01 10:20", "Order Completed")],
    }, steps=spec_steps)
    assert levels(r) == {"pia": 2}


def test_property_filters_select_the_step_events(ws: Workspace) -> None:
    spec_steps = (Step(Match("Checkout Started")),
                  Step(Match("Checkout Step Viewed", (Filter("step", "=", 3),))),
                  Step(Match("Order Completed", (Filter("total", ">=", 50),))))
    r = run(ws, {
        "quin": [ev("2024-05-01 10:00", "Checkout Started"),
                 ev("2024-05-01 10:01", "Checkout Step Viewed", properties={"step": 2}),
                 ev("2024-05-01 10:02", "Order Completed", properties={"total": 80.5})],
        "rita": [ev("2024-05-01 10:00", "Checkout Started"),
                 ev("2024-05-01 10:01", "Checkout Step Viewed", properties={"step": 3}),
                 ev("2024-05-01 10:02", "Order Completed", properties={"total": 20})],
        "sam": [ev("2024-05-01 10:00", "Checkout Started"),
                ev("2024-05-01 10:01", "Checkout Step Viewed", properties={"step": 3}),
                ev("2024-05-01 10:02", "Order Completed", properties={"total": 120})],
    }, steps=spec_steps)
    assert levels(r) == {"quin": 1, "rita": 2, "sam": 3}


def test_breakdown_by_device_uses_the_value_at_step_one(ws: Workspace) -> None:
    mobile = {"device": {"type": "mobile"}}
    desktop = {"device": {"type": "desktop"}}
    r = run(ws, {
        "tom": [ev("2024-05-01 10:00", "Product Viewed", context=mobile),
                ev("2024-05-01 10:01", "Product Added", context=mobile)],
        "uma": [ev("2024-05-01 10:00", "Product Viewed", context=desktop),
                ev("2024-05-01 10:01", "Product Added", context=desktop),
                ev("2024-05-01 10:02", "Order Completed", context=desktop)],
        "vic": [ev("2024-05-01 10:00", "Product Viewed", context=mobile)],
    }, breakdown="device")
    assert [s.persons for s in r.breakdown["mobile"]] == [2, 1, 0]
    assert [s.persons for s in r.breakdown["desktop"]] == [1, 1, 1]


def test_breakdown_by_channel_inherits_the_landing_channel(ws: Workspace) -> None:
    r = run(ws, {
        "wil": [ev("2024-05-01 09:59", "Page Viewed", channel="email", type="page"),
                ev("2024-05-01 10:00", "Product Viewed"), ev("2024-05-01 10:01", "Product Added")],
        "xen": [ev("2024-05-01 10:00", "Product Viewed", channel="paid_search")],
    }, breakdown="channel")
    assert set(r.breakdown) == {"email", "paid_search"}
    assert [s.persons for s in r.breakdown["email"]] == [1, 1, 0]


def test_more_than_ten_steps(ws: Workspace) -> None:
    names = [f"S{i}" for i in range(14)]
    r = run(ws, {"yan": [ev(f"2024-05-01 10:{i:02d}", n) for i, n in enumerate(names)],
                 "zoe": [ev(f"2024-05-01 10:{i:02d}", n) for i, n in enumerate(names[:11])]},
            steps=steps(*names))
    assert levels(r) == {"yan": 14, "zoe": 11}


@pytest.mark.parametrize(("doc", "field"), [
    ({"steps": []}, "steps"),
    ({"steps": ["Product Viewed"], "window": "0d"}, "window"),
    ({"steps": ["Product Viewed"], "window": "-3h"}, "window"),
    ({"steps": ["Product Viewed"], "mode": "sideways"}, "mode"),
    ({"steps": ["Product Viewed", "Order Completed"],
      "exclusions": [{"event": "X", "from_step": 2, "to_step": 1}]}, "exclusions[0]"),
    ({"steps": [{"event": "Product Viewed", "where": ["bad key!=1"]}]}, "property"),
])
def test_bad_spec_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as err:
        spec_from_dict(doc)
    assert err.value.field == field


def test_unknown_event_is_a_spec_error_naming_the_step(ws: Workspace) -> None:
    ws.append(journeys({"a": [ev("2024-05-01 10:00", "Product Viewed")]}), source="test")
    with pytest.raises(SpecError, match="unknown event 'Prodcut Added'") as err:
        funnel(DuckDBEngine(ws), spec_from_dict({"steps": ["Product Viewed", "Prodcut Added"]}))
    assert err.value.field == "steps[1]"
