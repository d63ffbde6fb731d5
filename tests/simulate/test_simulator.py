"""Behaviour of the journey simulator: determinism, ground truth, planted pain points."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cxlens.simulate import SimulationReport, simulate
from cxlens.store.workspace import Workspace


def _run(root: Path, business: str, customers: int, seed: int) -> tuple[Workspace, SimulationReport]:
    ws = Workspace.init(root)
    report = simulate(ws, business=business, customers=customers, seed=seed)  # type: ignore[arg-type]
    return ws, report


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, SimulationReport]:
    return _run(tmp_path_factory.mktemp("shop"), "shop", 6000, 7)


@pytest.fixture(scope="module")
def b2b(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, SimulationReport]:
    return _run(tmp_path_factory.mktemp("b2b"), "b2b", 3000, 7)


def _events(ws: Workspace, project: str) -> list[tuple[object, ...]]:
    with Workspace.open(ws.root) as fresh:
        return fresh.events(project).order("event_id").fetchall()


def _q(ws: Workspace, sql: str, project: str = "shop") -> list[tuple[object, ...]]:
    """Run SQL with the project's events as ``ev``."""
    with Workspace.open(ws.root) as fresh:
        con = fresh.con
        con.register("ev", fresh.events(project))
        persons = ws.root / "ground_truth" / project / "persons.parquet"
        con.register("gt_persons", pq.read_table(persons))
        return con.execute(sql).fetchall()


def _one(ws: Workspace, sql: str, project: str = "shop") -> float:
    value = _q(ws, sql, project)[0][0]
    assert isinstance(value, int | float)
    return value


def test_same_seed_gives_identical_events_and_ground_truth(tmp_path: Path) -> None:
    ws1, _ = _run(tmp_path / "a", "shop", 800, 3)
    ws2, _ = _run(tmp_path / "b", "shop", 800, 3)
    ws3, _ = _run(tmp_path / "c", "shop", 800, 4)
    assert _events(ws1, "shop") == _events(ws2, "shop")
    assert _events(ws1, "shop") != _events(ws3, "shop")
    for name in ("summary.json", "pain_points.json", "personas.json"):
        a = (ws1.root / "ground_truth/shop" / name).read_bytes()
        assert a == (ws2.root / "ground_truth/shop" / name).read_bytes()
    assert pq.read_table(ws1.root / "ground_truth/shop/persons.parquet").equals(
        pq.read_table(ws2.root / "ground_truth/shop/persons.parquet"))


def test_resimulating_the_same_seed_inserts_nothing_new(tmp_path: Path) -> None:
    ws, first = _run(tmp_path / "w", "shop", 300, 1)
    again = simulate(ws, business="shop", customers=300, seed=1)
    assert first.inserted == first.events and again.inserted == 0


def test_summary_matches_events(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, rep = shop
    summary = json.loads((ws.root / "ground_truth/shop/summary.json").read_text())
    n_events = _one(ws, "SELECT count(*) FROM ev")
    orders = _one(ws, "SELECT count(*) FROM ev WHERE event = 'Order Completed'")
    assert n_events == summary["events"] == rep.events
    assert orders == summary["orders"] == rep.orders
    revenue = _one(ws, "SELECT sum(revenue) FROM ev WHERE event = 'Order Completed'")
    assert abs(revenue - summary["order_revenue"]) < 0.05
    assert sum(p["persons"] for p in summary["per_persona"].values()) == 6000
    assert sum(p["orders"] for p in summary["per_persona"].values()) == orders
    assert len(summary["per_persona"]) >= 4


def test_every_person_has_events_under_its_ids(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    missing = _one(ws, """
        SELECT count(*) FROM gt_persons p WHERE NOT EXISTS (
          SELECT 1 FROM ev WHERE list_contains(p.anonymous_ids, ev.anonymous_id)
             OR ev.user_id = p.user_id)""")
    assert missing == 0
    counted = _one(ws, "SELECT sum(orders) FROM gt_persons")
    orders = _one(ws, "SELECT count(*) FROM ev WHERE event = 'Order Completed'")
    assert counted == orders
    multi = _one(ws, "SELECT count(*) FROM gt_persons WHERE len(identified_anonymous_ids) >= 2")
    assert multi > 0  # several devices stitched by identify events
    identify_pairs = _one(ws, """
        SELECT count(*) FROM ev WHERE type = 'identify' AND anonymous_id IS NOT NULL
          AND user_id IS NOT NULL""")
    assert identify_pairs > 0


def test_mobile_payment_step_loses_about_forty_percent_more(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    ratio = _one(ws, """
        WITH pay AS (
          SELECT session_id, json_extract_string(context, '$.device.type') AS dev FROM ev
          WHERE event = 'Checkout Step Viewed' AND json_extract_string(properties, '$.step_name') = 'payment'),
        done AS (SELECT DISTINCT session_id FROM ev WHERE event = 'Order Completed')
        SELECT avg(CASE WHEN d.session_id IS NULL THEN 1 ELSE 0 END) FILTER (WHERE dev = 'mobile')
             / avg(CASE WHEN d.session_id IS NULL THEN 1 ELSE 0 END) FILTER (WHERE dev <> 'mobile')
        FROM pay LEFT JOIN done d USING (session_id)""")
    assert 1.15 < ratio < 1.7
    planted = json.loads((ws.root / "ground_truth/shop/pain_points.json").read_text())
    assert planted["payment_step_mobile_loss"]["planted"]["ratio"] == 1.4


def test_confusing_page_loops_end_without_checkout(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    row = _q(ws, """
        WITH loops AS (
          SELECT session_id FROM ev WHERE type = 'page'
            AND json_extract_string(context, '$.page.path') = '/hilfe/versandkosten-und-ruecksendung'
          GROUP BY 1 HAVING count(*) >= 3)
        SELECT count(*), count(*) FILTER (WHERE session_id IN (
          SELECT session_id FROM ev WHERE event = 'Checkout Started')) FROM loops""")[0]
    assert int(row[0]) > 20 and row[1] == 0  # type: ignore[call-overload]


def test_late_delivery_brings_complaints_churn_and_low_nps(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    pain = json.loads((ws.root / "ground_truth/shop/pain_points.json").read_text())["late_delivery"]["measured"]
    assert pain["mean_nps_late"] < pain["mean_nps_on_time"] - 2
    assert pain["ticket_rate_late"] > 5 * pain["ticket_rate_on_time"]
    assert pain["churn_rate_late"] > 2 * pain["churn_rate_on_time"]
    persons = pq.read_table(ws.root / "ground_truth/shop/persons.parquet").to_pylist()
    churned_ids = {p["user_id"] for p in persons if p["churned"]}
    repeat = _q(ws, """
        SELECT user_id FROM ev WHERE event = 'Order Completed' GROUP BY 1 HAVING count(*) > 1""")
    assert not churned_ids & {r[0] for r in repeat}


def test_feedback_in_german_and_english_matches_experience(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    files = list((ws.root / "tables/feedback/project=shop").glob("part-*.parquet"))
    fb = [row for f in files for row in pq.ParquetFile(f).read().to_pylist()]
    langs = {r["language"] for r in fb if r["text"]}
    assert langs == {"de", "en"}
    de = sum(1 for r in fb if r["language"] == "de")
    assert de > 2 * sum(1 for r in fb if r["language"] == "en")
    late_texts = [r["text"] for r in fb if r["kind"] == "nps" and r["text"] and r["score"] <= 3]
    assert any("spät" in t or "late" in t for t in late_texts)
    answered = _one(ws, "SELECT count(*) FROM ev WHERE event = 'Survey Answered'")
    assert answered == sum(1 for r in fb if r["kind"] in ("nps", "csat"))


def test_b2b_has_accounts_roles_sales_and_contracts(b2b: tuple[Workspace, SimulationReport]) -> None:
    ws, rep = b2b
    assert rep.accounts > 0
    accounts = pq.read_table(ws.root / "ground_truth/b2b/accounts.parquet")
    persons = pq.read_table(ws.root / "ground_truth/b2b/persons.parquet").to_pylist()
    assert {p["role"] for p in persons} == {"decision_maker", "purchasing", "user", "it"}
    assert {p["account_id"] for p in persons} <= set(accounts.column("account_id").to_pylist())
    counts = dict(_q(ws, "SELECT event, count(*) FROM ev GROUP BY 1", "b2b"))
    for name in ("Demo Requested", "Sales Call", "Quote Sent", "Contract Signed", "Order Completed"):
        assert counts.get(name, 0) > 0
    groups = _one(ws, "SELECT count(*) FROM ev WHERE type = 'group' AND account_id IS NOT NULL", "b2b")
    assert groups > 0
    assert counts.get("Contract Renewed", 0) + counts.get("Contract Cancelled", 0) > 0
