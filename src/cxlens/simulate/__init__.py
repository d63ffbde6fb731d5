"""Journey simulator: realistic, seeded multi-channel data with a known ground truth.

``simulate(ws, business="shop", customers=10_000, seed=1)`` writes events, feedback rows
and ground-truth files into a workspace. The same arguments give byte-identical events
and ground truth: nothing depends on the wall clock, ids come from the seed.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from cxlens.errors import ConfigError
from cxlens.ingest.normalize import check_project
from cxlens.simulate import groundtruth as gt
from cxlens.simulate import journeys as jr
from cxlens.simulate.arrowize import Arrowizer, Lookups, js
from cxlens.simulate.eventlog import EventLog
from cxlens.simulate.feedback import feedback_table
from cxlens.simulate.personas import PERSONAS, ROLES
from cxlens.simulate.site import B2B_SITE, LOCALES, SHOP_SITE
from cxlens.store.workspace import Workspace

__all__ = ["DEFAULT_START", "SimulationReport", "simulate"]

DEFAULT_START = dt.date(2025, 1, 6)
CHUNK_EVENTS = 1_500_000
Business = Literal["shop", "b2b"]


@dataclass(frozen=True, slots=True)
class SimulationReport:
    business: str
    project: str
    customers: int
    accounts: int
    events: int
    inserted: int
    orders: int
    revenue: float
    feedback: int
    start: str
    days: int
    seed: int
    seconds: float
    generate_seconds: float
    events_per_second: float
    ground_truth_dir: str


def _hex_ids(rng: np.random.Generator, n: int, prefix: str = "") -> list[str]:
    raw = rng.integers(0, 2**62, n, dtype=np.int64)
    return [f"{prefix}{x:016x}" for x in raw.tolist()]


def simulate(
    ws: Workspace,
    *,
    business: Business,
    customers: int,
    seed: int = 0,
    project: str | None = None,
    start: dt.date | None = None,
    days: int = 180,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Simulate ``customers`` persons of a B2C shop or a B2B supplier into ``ws``."""
    if business not in ("shop", "b2b"):
        raise ConfigError(f"unknown business {business!r}; use 'shop' or 'b2b'", field="business")
    if customers < 1:
        raise ConfigError("--customers must be at least 1", field="customers")
    if days < 7:
        raise ConfigError("--days must be at least 7", field="days")
    project = check_project(project or business)
    start = start or DEFAULT_START
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, 0 if business == "shop" else 1])
    start_us = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()) * 10**6
    end_us = start_us + days * jr.US_PER_DAY
    site = SHOP_SITE if business == "shop" else B2B_SITE
    personas = PERSONAS[business]
    log = EventLog()
    if business == "shop":
        from cxlens.simulate import shop

        pop, traits = shop.population(rng, customers, days)
        accounts: dict[str, list[str]] = {"account_id": [], "traits": []}
        sim = jr.Sim(rng, log, site, personas, pop, start_us, end_us, prices=site.product_prices())
        facts = shop.run(sim, days)
    else:
        from cxlens.simulate import b2b

        pop, traits, accounts = b2b.population(rng, customers, days)
        sim = jr.Sim(rng, log, site, personas, pop, start_us, end_us, prices=site.product_prices())
        facts = b2b.run(sim, days)
    frozen = log.freeze(end_us)
    n = pop.n
    # person strings: drawn after the journeys so that they never shift the journeys
    id_rng = np.random.default_rng([seed, 2 if business == "shop" else 3])
    anon = _hex_ids(id_rng, n * 3)
    anon = [f"{a[:8]}-{a[8:12]}-4{a[13:16]}-a{a[1:4]}-{a[4:16]}" for a in anon]
    users = _hex_ids(id_rng, n, "u-")
    domain = "example.de" if business == "shop" else "firma.example"
    emails = [f"{u[2:10]}@{domain}" for u in users]
    ips = [f"{a}.{b}.{c}.0" for a, b, c in id_rng.integers(10, 250, (n, 3)).tolist()]
    trait_docs = [
        js({"email": emails[i], "locale": LOCALES[pop.locale[i]],
            **{k: (v[i].split("|") if k == "interests" else v[i]) for k, v in traits.items()}})
        for i in range(n)
    ]
    lk = Lookups(
        business=business, site=site, prices=sim.prices, anon_ids=pa.array(anon),
        user_ids=pa.array(users), traits=pa.array(trait_docs),
        account_ids=pa.array(accounts["account_id"], pa.string()),
        account_traits=pa.array(accounts["traits"], pa.string()), locale=pop.locale.astype(np.int64),
        ips=pa.array(ips), event_prefix=f"sim-{business}-{seed}-",
    )
    arrow = Arrowizer(lk, frozen, sim.orders.table())
    total = len(frozen["ts"])
    gen_seconds = time.perf_counter() - t0
    inserted = 0
    ws.ensure_project(project)
    with ws.writing():
        for lo in range(0, total, CHUNK_EVENTS):
            hi = min(lo + CHUNK_EVENTS, total)
            table = arrow.table(lo, hi, pop.dev_profile)
            res = ws.append(table, source=f"simulate:{business}", project=project, kind="simulate",
                            locked=True)
            inserted += res.inserted
            if progress is not None:
                progress(hi, total)
    fb = feedback_table(frozen, lk, project)
    fb_dir = ws.root / "tables" / "feedback" / f"project={project}"
    gt.write_parquet(fb_dir / f"part-simulate-{business}-{seed}.parquet", fb)
    # ground truth
    out = ws.root / "ground_truth" / project
    out.mkdir(parents=True, exist_ok=True)
    stage = gt.stage_reached(frozen, n, business)
    persons = gt.persons_table(
        frozen, pop.persona, personas, anon, users, emails, pop.dev_profile, pop.locale, facts,
        stage, accounts["account_id"], pop.acct, pop.role, ROLES)
    gt.write_parquet(out / "persons.parquet", persons)
    if business == "b2b":
        gt.write_parquet(out / "accounts.parquet", b2b.accounts_table(accounts, project))
    summ = gt.summary(frozen, personas, pop.persona, stage, business, fb.num_rows)
    gt.write_json(out / "summary.json", {**summ, "seed": seed, "start": start.isoformat(), "days": days,
                                          "project": project, "accounts": len(accounts["account_id"])})
    gt.write_json(out / "personas.json", {"business": business, "personas": [p.to_json() for p in personas]})
    gt.write_json(out / "pain_points.json", _pain_points(frozen, pop, site.help_page, persons))
    seconds = time.perf_counter() - t0
    return SimulationReport(
        business=business, project=project, customers=n, accounts=len(accounts["account_id"]),
        events=total, inserted=inserted, orders=summ["orders"], revenue=summ["revenue"],
        feedback=fb.num_rows, start=start.isoformat(), days=days, seed=seed,
        seconds=round(seconds, 3), generate_seconds=round(gen_seconds, 3),
        events_per_second=round(total / seconds, 1) if seconds > 0 else 0.0,
        ground_truth_dir=str(Path(out)),
    )


def _pain_points(log: dict[str, np.ndarray], pop: jr.Population, help_page: int,
                 persons: pa.Table) -> dict[str, object]:
    late = persons.column("late_delivery").to_numpy(zero_copy_only=False)
    churned = persons.column("churned").to_numpy(zero_copy_only=False)
    buyers = persons.column("orders").to_numpy() > 0
    nps_m = (log["code"] == 13) & (log["aux"] // 10 == 0)
    nps_person, nps = log["person"][nps_m], log["val"][nps_m]
    late_nps = late[nps_person]
    tickets = np.bincount(log["person"][log["code"] == 10], minlength=pop.n) > 0
    return {
        "payment_step_mobile_loss": {
            "description": "The payment step of the checkout loses 40% more mobile visitors "
            "than desktop/tablet visitors.",
            "step": "payment",
            "event": "Checkout Step Viewed",
            "step_number": 3,
            "planted": {"desktop_tablet_loss": jr.PAYMENT_LOSS_DESKTOP,
                        "mobile_loss": jr.PAYMENT_LOSS_DESKTOP * jr.PAYMENT_LOSS_MOBILE_FACTOR,
                        "ratio": jr.PAYMENT_LOSS_MOBILE_FACTOR},
            "measured": gt.payment_loss(log, pop.dev_profile),
        },
        "late_delivery": {
            "description": "Late deliveries cause complaint tickets, low NPS/CSAT and churn "
            "(no repeat purchase in the shop, contract cancelled in B2B).",
            "planted": {"late_prob": jr.LATE_PROB, "late_prob_factor_at_ch": 1.6,
                        "ticket_prob_if_late": jr.LATE_TICKET_PROB,
                        "ticket_prob_otherwise": jr.OTHER_TICKET_PROB,
                        "churn_prob_if_late": jr.LATE_CHURN_PROB, "churn_prob_otherwise": jr.BASE_CHURN_PROB,
                        "nps_penalty": jr.LATE_NPS_PENALTY},
            "measured": {
                "persons_with_late_delivery": int(late.sum()),
                "churn_rate_late": float(churned[late & buyers].mean()) if (late & buyers).any() else None,
                "churn_rate_on_time": float(churned[~late & buyers].mean()) if (~late & buyers).any() else None,
                "ticket_rate_late": float(tickets[late].mean()) if late.any() else None,
                "ticket_rate_on_time": float(tickets[~late & buyers].mean()) if (~late & buyers).any() else None,
                "mean_nps_late": float(nps[late_nps].mean()) if late_nps.any() else None,
                "mean_nps_on_time": float(nps[~late_nps].mean()) if (~late_nps).any() else None,
            },
        },
        "confusing_page_loop": {
            "description": "The shipping-costs/returns page confuses: some visits go back and "
            "forth between it and a product page (>= 3 views of the page) and end without checkout.",
            "page": SHOP_SITE.pages[help_page][0],
            "planted": {"min_help_views": jr.LOOP_MIN_HELP_VIEWS, "loop_length": [5, 7],
                        "loop_prob_per_visit": {p.key: p.loop for ps in PERSONAS.values() for p in ps},
                        "checkout_after_loop": 0.0},
            "measured": gt.loops(log, help_page),
        },
    }
