"""Behaviour of the journey simulator: determinism, ground truth, planted pain points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from cxlens.simulate import SimulationReport, simulate
from cxlens.store.workspace import Workspace


def _run(root: Path, business: str, customers: int, seed: int,
         days: int = 180) -> tuple[Workspace, SimulationReport]:
    ws = Workspace.init(root)
    report = simulate(ws, business=business, customers=customers, seed=seed,  # type: ignore[arg-type]
                      days=days)
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


def test_another_simulation_into_the_same_project_is_refused_before_it_writes(tmp_path: Path) -> None:
    from cxlens.errors import ConfigError

    ws, first = _run(tmp_path / "w", "shop", 300, 1)
    summary = (ws.root / "ground_truth/shop/summary.json").read_bytes()
    # 600 customers with the same seed reused the event ids sim-shop-1-<n> for other
    # events: some were dropped as duplicates, others stored twice on other days
    for other in ({"customers": 600, "seed": 1}, {"customers": 300, "seed": 2}):
        with pytest.raises(ConfigError, match=r"already holds another simulation \(--business shop "
                                              r"--seed 1 --customers 300 .*-p shop-2"):
            simulate(ws, business="shop", **other)  # type: ignore[arg-type]
    assert (ws.root / "ground_truth/shop/summary.json").read_bytes() == summary
    (n, ids), = ws.events("shop").aggregate("count(*), count(DISTINCT event_id)").fetchall()
    assert n == ids == first.events
    assert simulate(ws, business="shop", customers=600, seed=1, project="shop-2").inserted > 0


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
    # a churned customer orders nothing after the delivery that made them leave
    after = _one(ws, """
        SELECT count(*) FROM ev JOIN gt_persons p USING (user_id)
        WHERE ev.event = 'Order Completed' AND p.churned
          AND epoch_us(ev.timestamp) > p.churned_at_us""")
    assert after == 0


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
    counts: dict[object, int] = {r[0]: int(r[1]) for r in _q(ws, "SELECT event, count(*) FROM ev GROUP BY 1", "b2b")}  # type: ignore[call-overload]
    for name in ("Demo Requested", "Sales Call", "Quote Sent", "Contract Signed", "Order Completed"):
        assert counts.get(name, 0) > 0
    groups = _one(ws, "SELECT count(*) FROM ev WHERE type = 'group' AND account_id IS NOT NULL", "b2b")
    assert groups > 0
    assert counts.get("Contract Renewed", 0) + counts.get("Contract Cancelled", 0) > 0


def test_a_late_repeat_delivery_also_drives_churn(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    # persons whose first delivery was on time but a later one was late: most leave
    rate_late_later = _one(ws, """
        SELECT avg(churned::INT) FROM gt_persons
        WHERE late_delivery AND NOT late_first_delivery AND orders >= 2""")
    rate_never_late = _one(ws, """
        SELECT avg(churned::INT) FROM gt_persons WHERE NOT late_delivery AND orders >= 2""")
    assert rate_late_later > 0.4 and rate_never_late < 0.1
    # and they churn at that late delivery, not before
    early = _one(ws, """
        WITH late AS (
          SELECT user_id, min(timestamp) AS first_late FROM ev
          WHERE event = 'Order Delivered' AND json_extract(properties, '$.delivered_late')::BOOLEAN
          GROUP BY 1)
        SELECT count(*) FROM gt_persons p JOIN late USING (user_id)
        WHERE p.churned AND p.churned_at_us < epoch_us(late.first_late)
          AND NOT EXISTS (SELECT 1 FROM ev WHERE ev.user_id = p.user_id
                          AND ev.event = 'Order Delivered' AND epoch_us(ev.timestamp) = p.churned_at_us)""")
    assert early == 0


def test_newsletter_clicks_lead_to_email_attributed_orders(shop: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = shop
    email_orders = _one(ws, """
        WITH landing AS (
          SELECT session_id, channel FROM ev WHERE channel IS NOT NULL AND type = 'page'
          QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY timestamp) = 1)
        SELECT count(*) FROM ev JOIN landing l USING (session_id)
        WHERE ev.event = 'Order Completed' AND l.channel = 'email'""")
    planted = _one(ws, "SELECT sum(email_orders) FROM gt_persons")
    assert email_orders > 0 and email_orders == planted
    after_click = _one(ws, """
        WITH clicks AS (SELECT user_id, timestamp AS clicked FROM ev WHERE event = 'Newsletter Clicked'),
        landing AS (
          SELECT session_id, user_id, timestamp AS landed FROM ev WHERE channel = 'email' AND type = 'page')
        SELECT count(*) FROM ev o JOIN landing l USING (session_id) JOIN clicks c
          ON c.user_id = o.user_id AND l.landed BETWEEN c.clicked AND c.clicked + INTERVAL 10 SECOND
        WHERE o.event = 'Order Completed'""")
    assert after_click > 0  # a newsletter click that ends in an order


def test_every_b2b_buyer_is_tied_to_its_account(b2b: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = b2b
    missing = _one(ws, """
        SELECT count(DISTINCT o.user_id) FROM ev o
        WHERE o.event = 'Order Completed' AND NOT EXISTS (
          SELECT 1 FROM ev g WHERE g.type = 'group' AND g.user_id = o.user_id
            AND g.account_id = o.account_id AND g.timestamp <= o.timestamp)""", "b2b")
    assert missing == 0
    portal_only = _one(ws, """
        SELECT count(*) FROM gt_persons p WHERE p.orders > 0 AND NOT EXISTS (
          SELECT 1 FROM ev WHERE ev.user_id = p.user_id
            AND ev.event IN ('Demo Requested', 'Whitepaper Downloaded'))""", "b2b")
    assert portal_only > 0  # the case that used to have no group call


def test_b2b_contracts_renew_or_end_every_term(b2b: tuple[Workspace, SimulationReport]) -> None:
    ws, _ = b2b
    rows = _q(ws, """
        SELECT account_id, list(event ORDER BY timestamp) FROM ev
        WHERE event IN ('Contract Signed', 'Contract Renewed', 'Contract Cancelled') GROUP BY 1""", "b2b")
    assert any(evs.count("Contract Renewed") >= 1 for _, evs in rows)  # type: ignore[attr-defined]
    for _, evs in rows:
        assert evs[0] == "Contract Signed"  # type: ignore[index]
        assert "Contract Cancelled" not in evs[:-1]  # type: ignore[index,operator]
    gt = pq.read_table(ws.root / "ground_truth/b2b/persons.parquet").to_pylist()
    churned = {p["account_id"] for p in gt if p["churned"]}
    cancelled = {a for a, evs in rows if evs[-1] == "Contract Cancelled"}  # type: ignore[index]
    assert churned == cancelled


def test_chunked_simulation_keeps_ids_unique_and_ground_truth_consistent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cxlens.simulate import chunk

    monkeypatch.setattr(chunk, "PERSONS_PER_CHUNK", 400)
    for business in ("shop", "b2b"):
        # chunks of 400, 400, 200; a short period keeps the partitions (files) few
        ws, rep = _run(tmp_path / business, business, 1000, 5, days=30)
        n_ids = _q(ws, """SELECT count(*), count(DISTINCT event_id), count(DISTINCT session_id),
                                 count(DISTINCT json_extract_string(properties, '$.order_id'))
                                   FILTER (WHERE event = 'Order Completed'),
                                 count(*) FILTER (WHERE event = 'Order Completed')
                          FROM ev""", business)[0]
        assert n_ids[0] == n_ids[1] == rep.events
        assert n_ids[3] == n_ids[4] == rep.orders
        persons = pq.read_table(ws.root / f"ground_truth/{business}/persons.parquet")
        assert persons.num_rows == 1000
        assert len(set(persons.column("person_id").to_pylist())) == 1000
        assert sum(persons.column("orders").to_pylist()) == rep.orders
        user_ids = [u for u in persons.column("user_id").to_pylist() if u]
        assert len(set(user_ids)) == len(user_ids)
        summary = json.loads((ws.root / f"ground_truth/{business}/summary.json").read_text())
        assert summary["events"] == rep.events and summary["persons"] == 1000
        if business == "b2b":
            accounts = pq.read_table(ws.root / "ground_truth/b2b/accounts.parquet")
            ids = accounts.column("account_id").to_pylist()
            assert len(set(ids)) == len(ids) == rep.accounts
            assert set(persons.column("account_id").to_pylist()) == set(ids)


def test_progress_is_reported_per_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cxlens.simulate import chunk

    monkeypatch.setattr(chunk, "PERSONS_PER_CHUNK", 100)
    calls: list[tuple[int, int]] = []
    ws = Workspace.init(tmp_path)
    simulate(ws, business="shop", customers=250, seed=1, days=14,
             progress=lambda d, t: calls.append((d, t)))
    assert calls == [(100, 250), (200, 250), (250, 250)]


# -- persona separability --------------------------------------------------------------
_FEATURES_SQL = """
    WITH ids AS (SELECT person_id, persona, unnest(anonymous_ids) AS anonymous_id FROM gt_persons),
    pe AS (SELECT i.person_id, i.persona, ev.* FROM ev JOIN ids i USING (anonymous_id))
    SELECT person_id, any_value(persona),
      {categories},
      avg((json_extract_string(context, '$.device.type') = 'mobile')::INT),
      avg((json_extract_string(context, '$.device.type') = 'tablet')::INT),
      {channels},
      ln(1 + count(*) FILTER (WHERE event = 'Product Viewed') / count(DISTINCT session_id)),
      ln(count(DISTINCT session_id)),
      ln(1 + coalesce(avg(json_extract(properties, '$.price')::DOUBLE)
                      FILTER (WHERE event = 'Product Viewed'), 0))
    FROM pe GROUP BY 1 ORDER BY 1"""


def persona_features(ws: Workspace, project: str, categories: tuple[str, ...],
                     channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Behavioural features per person (web events under its anonymous ids): category
    shares of product views, device shares, landing-channel shares, views per visit,
    visits, price level. Returns (features, persona labels)."""
    cats = ", ".join(
        f"coalesce(avg((json_extract_string(properties, '$.category') = '{c}')::INT)"
        " FILTER (WHERE event = 'Product Viewed'), 0)" for c in categories)
    chans = ", ".join(
        f"coalesce(avg((channel = '{c}')::INT) FILTER (WHERE channel IS NOT NULL AND type = 'page'), 0)"
        for c in channels)
    rows = _q(ws, _FEATURES_SQL.format(categories=cats, channels=chans), project)
    x = np.array([r[2:] for r in rows], dtype=np.float64)
    labels = np.unique([r[1] for r in rows], return_inverse=True)[1]
    return x, labels


def kmeans(x: np.ndarray, k: int, seed: int = 0, rounds: int = 5) -> np.ndarray:
    """Plain k-means (k-means++ start, best of a few restarts) on standardised features."""
    z = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(z), np.int64), np.inf
    for _ in range(rounds):
        centres = [z[rng.integers(len(z))]]
        for _ in range(k - 1):
            d = np.min([((z - c) ** 2).sum(axis=1) for c in centres], axis=0)
            centres.append(z[rng.choice(len(z), p=d / d.sum())])
        c = np.array(centres)
        for _ in range(50):
            lab = ((z[:, None, :] - c[None]) ** 2).sum(axis=2).argmin(axis=1)
            c = np.array([z[lab == j].mean(axis=0) if (lab == j).any() else c[j] for j in range(k)])
        inertia = ((z - c[lab]) ** 2).sum()
        if inertia < best_inertia:
            best, best_inertia = lab, inertia
    return best


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(v: np.ndarray) -> float:
        return float((v * (v - 1) / 2).sum())

    n = len(a)
    index, rows, cols = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / (n * (n - 1) / 2)
    return (index - expected) / ((rows + cols) / 2 - expected)


def test_shop_personas_are_recovered_by_clustering_behaviour(shop: tuple[Workspace, SimulationReport]) -> None:
    from cxlens.simulate.site import SHOP_SITE

    ws, _ = shop
    channels = ("paid_social", "affiliate", "direct", "organic_search", "referral", "organic_social",
                "display", "paid_search")
    x, labels = persona_features(ws, "shop", SHOP_SITE.categories, channels)
    assert len(x) == 6000
    ari = adjusted_rand(labels, kmeans(x, 5))
    assert ari >= 0.9, ari


def test_b2b_personas_are_recovered_by_clustering_behaviour(b2b: tuple[Workspace, SimulationReport]) -> None:
    from cxlens.simulate.site import B2B_SITE

    ws, _ = b2b
    channels = ("paid_social", "organic_social", "paid_search", "organic_search", "referral", "direct")
    x, labels = persona_features(ws, "b2b", B2B_SITE.categories, channels)
    ari = adjusted_rand(labels, kmeans(x, 4))
    assert ari >= 0.9, ari


def test_a_negative_seed_is_a_clear_config_error(tmp_path: Path) -> None:
    from cxlens.errors import ConfigError

    ws = Workspace.init(tmp_path / "ws")
    try:
        with pytest.raises(ConfigError, match="--seed"):  # was numpy's ValueError, a traceback
            simulate(ws, business="shop", customers=10, seed=-1)
    finally:
        ws.close()
