"""Profiles: computed traits from events, and traits other modules write."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from duckdb import ColumnExpression, ConstantExpression

from cxlens.errors import ValidationError
from cxlens.identity import resolve, with_person
from cxlens.identity.profiles import build_profiles, profile, write_computed_traits
from cxlens.store.workspace import Workspace
from support import journeys

UTC = dt.UTC


def ident(at: str, anon: str, user: str, **traits: Any) -> dict[str, Any]:
    return {"at": at, "type": "identify", "event": "Identify", "anonymous_id": anon, "user_id": user,
            "properties": traits or None}


def visit(at: str, anon: str, channel: str, device: str, user: str | None = None) -> dict[str, Any]:
    return {"at": at, "type": "page", "event": "Product Viewed", "anonymous_id": anon, "user_id": user,
            "channel": channel, "context": {"device": {"type": device}}}


def order(at: str, user: str, revenue: float, channel: str) -> dict[str, Any]:
    return {"at": at, "event": "Order Completed", "user_id": user, "revenue": revenue, "channel": channel}


def person_with(ws: Workspace, id_: str) -> str:
    """The person_id analyses see for events carrying ``id_`` (user or anonymous id)."""
    rel = with_person(ws, ws.events())
    rows = rel.filter((ColumnExpression("user_id") == ConstantExpression(id_))
                      | (ColumnExpression("anonymous_id") == ConstantExpression(id_))).select("person_id").fetchall()
    return str(rows[0][0])


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    # anna: an ad on her phone, a newsletter on her laptop, logs in, orders twice
    ws.append(journeys({"anna": [
        visit("2024-05-01 09:00", "phone", "paid_search", "mobile"),
        visit("2024-05-02 20:00", "laptop", "email", "desktop"),
        ident("2024-05-02 20:05", "laptop", "u-anna", email="anna@example.de", plan="basic"),
        ident("2024-05-03 08:00", "phone", "u-anna"),
        order("2024-05-03 08:10", "u-anna", 40.0, "direct"),
        order("2024-05-20 12:00", "u-anna", 59.5, "email"),
    ], "ben": [visit("2024-05-04 10:00", "ben-dev", "organic", "tablet")]}), source="test")
    resolve(ws)
    return ws


def test_profile_carries_first_last_touch_orders_revenue_channels_devices(shop: Workspace) -> None:
    p = profile(shop, None, "anna@example.de")
    c = p.computed
    assert c["first_seen"].startswith("2024-05-01T09:00") and c["last_seen"].startswith("2024-05-20T12:00")
    assert (c["first_touch_channel"], c["last_touch_channel"]) == ("paid_search", "email")
    assert (c["orders"], c["revenue"]) == (2, 99.5)
    assert c["channels"] == ["direct", "email", "paid_search"]
    assert c["devices"] == ["desktop", "mobile"]
    assert p.traits["plan"] == "basic"
    assert p.computed_sources["orders"] == "cxlens"


def test_written_traits_show_in_the_profile_latest_wins_history_kept(shop: Workspace) -> None:
    anna = person_with(shop, "u-anna")
    ben = person_with(shop, "ben-dev")
    entered = dt.datetime(2024, 5, 3, 8, 10, tzinfo=UTC)
    first = pa.table({
        "person_id": [anna, ben],
        "journey_stage": ["Kauf", "Orientierung"],
        "stage_entered_at": pa.array([entered, None], pa.timestamp("us", tz="UTC")),
        "time_in_stage": pa.array([dt.timedelta(days=2), dt.timedelta(hours=1)], pa.duration("us")),
    })
    assert write_computed_traits(shop, None, first, "journeys",
                                 observed_at=dt.datetime(2024, 5, 5, tzinfo=UTC)) == 5  # one null skipped
    later = pa.table({"person_id": [anna], "journey_stage": ["Wiederkauf"]})
    write_computed_traits(shop, None, later, "journeys", observed_at=dt.datetime(2024, 5, 21, tzinfo=UTC))

    p = profile(shop, None, "u-anna")
    assert p.computed["journey_stage"] == "Wiederkauf"
    assert p.computed["stage_entered_at"] == "2024-05-03T08:10:00+00:00"
    assert p.computed["time_in_stage"] == 2 * 86400.0
    assert p.computed_sources["journey_stage"] == "journeys"
    assert p.computed["orders"] == 2  # the built-in traits are still there

    history = shop.con.sql(
        "SELECT value FROM read_parquet(?) WHERE person_id = ? AND trait = 'journey_stage' ORDER BY observed_at",
        params=[[str(shop.root / f.path) for f in shop.catalog.live_files("profiles", "default")], anna],
    ).fetchall()
    assert [r[0] for r in history] == ['"Kauf"', '"Wiederkauf"']


def test_rebuilding_profiles_keeps_written_traits(shop: Workspace) -> None:
    anna = person_with(shop, "u-anna")
    write_computed_traits(shop, None, pa.table({"person_id": [anna], "journey_stage": ["Kauf"]}), "journeys")
    build_profiles(shop)
    build_profiles(shop)
    assert profile(shop, None, "u-anna").computed["journey_stage"] == "Kauf"


@pytest.mark.parametrize(("table", "source", "field"), [
    (pa.table({"person": ["p1"], "stage": ["x"]}), "journeys", "person_id"),
    (pa.table({"person_id": ["p1"]}), "journeys", "table"),
    (pa.table({"person_id": ["p1"], "orders": [3]}), "journeys", "orders"),
    (pa.table({"person_id": ["p1"], "stage; drop": ["x"]}), "journeys", "stage; drop"),
    (pa.table({"person_id": ["p1"], "stage": ["x"]}), "cxlens", "source"),
    (pa.table({"person_id": ["p1"], "stage": ["x"]}), "", "source"),
])
def test_bad_traits_tables_are_refused_naming_the_field(shop: Workspace, table: pa.Table, source: str,
                                                        field: str) -> None:
    with pytest.raises(ValidationError) as err:
        write_computed_traits(shop, None, table, source)
    assert err.value.field == field


def test_events_without_any_id_belong_to_no_profile(shop: Workspace) -> None:
    # what the collector stores when consent is denied: no user id, no anonymous id
    shop.append(journeys({"nobody": [
        {"at": "2024-05-05 10:00", "type": "page", "event": "Danke", "anonymous_id": None, "user_id": None},
        {"at": "2024-05-05 10:01", "event": "Order Completed", "anonymous_id": None, "user_id": None,
         "revenue": 10.0},
    ]}), source="test")
    resolve(shop)
    assert build_profiles(shop) > 0  # was: "Casting field 'person_id' with null values"
    assert profile(shop, None, "u-anna").computed["orders"] == 2
