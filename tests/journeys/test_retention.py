"""Cohort retention, lifecycle and repeat purchases on declarative journeys."""

from __future__ import annotations

from typing import Any

import pytest

from cxlens.engines.local import DuckDBEngine
from cxlens.errors import SpecError
from cxlens.journeys.retention import RetentionResult, RetentionSpec, retention, spec_from_dict
from cxlens.journeys.steps import Match
from cxlens.store.workspace import Workspace
from support import journeys


def ev(at: str, event: str) -> dict[str, Any]:
    return {"at": at, "event": event}


# 2024-05-06 and 2024-05-13 are Mondays
PEOPLE = {
    "amy": [ev("2024-05-06 10:00", "Home"), ev("2024-05-07 10:00", "Order Completed"),
            ev("2024-05-14 10:00", "Order Completed"), ev("2024-05-21 10:00", "Home")],
    "bea": [ev("2024-05-08 10:00", "Home")],
    "cal": [ev("2024-05-13 09:00", "Home"), ev("2024-05-27 09:00", "Order Completed")],
}


def run(ws: Workspace, **kw: Any) -> RetentionResult:
    ws.append(journeys(PEOPLE), source="test")
    return retention(DuckDBEngine(ws), RetentionSpec(**kw), check=False)


def test_weekly_cohorts_by_first_touch_count_returns_per_week(ws: Workspace) -> None:
    r = run(ws, periods=4)
    cohorts = {c.start: (c.persons, c.retained) for c in r.cohorts}
    assert cohorts == {"2024-05-06": (2, (2, 1, 1, 0)), "2024-05-13": (1, (1, 0, 1, 0))}


def test_return_event_can_be_chosen(ws: Workspace) -> None:
    r = run(ws, periods=3, returning=Match("Order Completed"))
    cohorts = {c.start: c.retained for c in r.cohorts}
    assert cohorts["2024-05-06"] == (2, 1, 0)


def test_lifecycle_counts_new_returning_resurrected_dormant(ws: Workspace) -> None:
    r = run(ws)
    life = {lp.start: (lp.new, lp.returning, lp.resurrected, lp.dormant) for lp in r.lifecycle}
    assert life["2024-05-06"] == (2, 0, 0, 0)
    assert life["2024-05-13"] == (1, 1, 0, 1)  # cal new, amy returning, bea dormant
    assert life["2024-05-20"] == (0, 1, 0, 1)  # amy returning, cal dormant
    assert life["2024-05-27"] == (0, 0, 1, 1)  # cal resurrected, amy dormant


def test_repeat_purchase_rate(ws: Workspace) -> None:
    r = run(ws)
    assert (r.buyers, r.repeat_buyers) == (2, 1)
    assert r.repeat_purchase_rate == pytest.approx(0.5)


def test_monthly_periods_follow_the_calendar(ws: Workspace) -> None:
    r = run(ws, period="month", periods=2)
    assert [(c.start, c.persons) for c in r.cohorts] == [("2024-05", 3)]


def test_bad_retention_spec_names_the_field() -> None:
    with pytest.raises(SpecError) as err:
        spec_from_dict({"period": "fortnight"})
    assert err.value.field == "period"
    with pytest.raises(SpecError) as err:
        spec_from_dict({"periods": 0})
    assert err.value.field == "periods"
