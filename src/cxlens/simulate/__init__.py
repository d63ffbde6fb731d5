"""Journey simulator: realistic, seeded multi-channel data with a known ground truth.

``simulate(ws, business="shop", customers=10_000, seed=1)`` writes events, feedback rows
and ground-truth files into a workspace. The same arguments give byte-identical events
and ground truth: nothing depends on the wall clock, ids come from the seed.

Persons are simulated in chunks (``chunk.PERSONS_PER_CHUNK``); each chunk's events are
streamed into one ``ws.append`` (DuckDB pulls Arrow slices while the next is built), so
memory stays bounded by one chunk and every append carries ~2M events.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cxlens.errors import ConfigError
from cxlens.ingest.normalize import check_project
from cxlens.model.events import FILE_SCHEMA
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.simulate import groundtruth as gt
from cxlens.simulate import journeys as jr
from cxlens.simulate.chunk import Business, Chunk, chunk_sizes, generate
from cxlens.simulate.feedback import feedback_table
from cxlens.simulate.personas import PERSONAS, ROLES
from cxlens.simulate.site import B2B_SITE, SHOP_SITE
from cxlens.store.workspace import Workspace

__all__ = ["DEFAULT_START", "SimulationReport", "simulate"]

DEFAULT_START = dt.date(2025, 1, 6)
#: events per Arrow slice handed to DuckDB (bounded string memory while it writes)
SLICE_EVENTS = 500_000
DUCKDB_MEMORY_CAP = "1500MB"


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


@dataclass(slots=True)
class _Totals:
    """What the chunks add up to while they stream past."""

    counts: gt.Counts | None = None
    events: int = 0
    accounts: int = 0
    persons: int = 0
    generate_seconds: float = 0.0
    error: BaseException | None = None


def _refuse_another_run(summary: Path, project: str, run: dict[str, object]) -> None:
    """Only the same run may go into a project again (it then adds nothing). Another one
    (more customers, another seed) reuses the event ids sim-<business>-<seed>-<n> and the
    account numbers of the first for other events: the store dropped some as duplicates
    and kept others twice on other days, the accounts of two runs merged, and the ground
    truth described the last run only."""
    try:
        before = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no finished simulation in this project
    if all(before.get(key) == value for key, value in run.items()):
        return
    flags = {"business": "--business", "seed": "--seed", "persons": "--customers", "start": "--start",
             "days": "--days"}
    was = " ".join(f"{flags[key]} {before.get(key)}" for key in run)
    raise ConfigError(
        f"project {project!r} already holds another simulation ({was}); two would mix their "
        f"events and ground truth: simulate into another project (-p {project[:50]}-2) or a fresh "
        "workspace, or repeat the same run (it adds nothing)", field="project")


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
    """Simulate ``customers`` persons of a B2C shop or a B2B supplier into ``ws``.

    ``progress(persons_done, customers)`` is called after each chunk of persons has been
    generated and handed to the workspace."""
    if business not in ("shop", "b2b"):
        raise ConfigError(f"unknown business {business!r}; use 'shop' or 'b2b'", field="business")
    if customers < 1:
        raise ConfigError("--customers must be at least 1", field="customers")
    if days < 7:
        raise ConfigError("--days must be at least 7", field="days")
    if seed < 0:  # numpy's generators take none
        raise ConfigError(f"--seed must be 0 or more, not {seed}", field="seed")
    project = check_project(project or business)
    start = start or DEFAULT_START
    t0 = time.perf_counter()
    start_us = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()) * 10**6
    end_us = start_us + days * jr.US_PER_DAY
    site = SHOP_SITE if business == "shop" else B2B_SITE
    personas = PERSONAS[business]
    out = ws.root / "ground_truth" / project
    _refuse_another_run(out / "summary.json", project, {
        "business": business, "seed": seed, "persons": customers, "start": start.isoformat(), "days": days})
    out.mkdir(parents=True, exist_ok=True)
    persons_sink = gt.ParquetSink(out / "persons.parquet")
    accounts_sink = gt.ParquetSink(out / "accounts.parquet")
    fb_dir = ws.root / "tables" / "feedback" / f"project={project}"
    fb_sink = gt.ParquetSink(fb_dir / f"part-simulate-{business}-{seed}.parquet")
    tot = _Totals()
    serials: dict[str, int] = {}

    def ground_truth(ch: Chunk, first_event: int) -> None:
        pop, lk, n = ch.pop, ch.lookups, ch.pop.n
        stage = gt.stage_reached(ch.log, n, business)
        persons = gt.persons_table(
            ch.log, pop.persona, personas, lk.anon_ids, lk.user_ids, lk.emails, pop.dev_profile,
            pop.locale, ch.facts, stage, lk.account_ids, pop.acct, pop.role, ROLES, ch.first_person)
        persons_sink.write(persons)
        tot.counts = gt.add_counts(tot.counts, gt.chunk_counts(
            ch.log, pop.persona, len(personas), stage, pop.dev_profile, site.help_page, persons))
        fb_sink.write(feedback_table(ch.log, lk, project, first_event))
        if business == "b2b":
            from cxlens.simulate import b2b

            accounts_sink.write(b2b.accounts_table(ch.accounts, project))

    def batches(ch: Chunk) -> Iterator[pa.RecordBatch]:
        # Runs on DuckDB's scan thread; an exception is kept and re-raised by the caller,
        # as DuckDB would report it only as a failed Arrow scan.
        try:
            for lo in range(0, ch.events, SLICE_EVENTS):
                g0 = time.perf_counter()
                table = ch.arrow.table(lo, min(lo + SLICE_EVENTS, ch.events), ch.pop.dev_profile)
                tot.generate_seconds += time.perf_counter() - g0
                yield from table.to_batches()
        except BaseException as exc:
            tot.error = exc
            raise

    ws.ensure_project(project)
    inserted = 0
    try:
        with ws.writing(), _duckdb_memory_cap(ws):
            for index, n in enumerate(chunk_sizes(customers)):
                g0 = time.perf_counter()
                ch = generate(business, seed, index, n, tot.persons, tot.accounts, tot.events,
                              serials, start_us, end_us, days)
                ground_truth(ch, tot.events)
                tot.generate_seconds += time.perf_counter() - g0
                # One append per chunk (>= 2M events for full chunks): DuckDB 2.0's
                # partitioned COPY buffers its whole input before writing, so one append
                # for everything spilled 20 GB at a million customers (measured).
                reader = pa.RecordBatchReader.from_batches(FILE_SCHEMA, batches(ch))
                res = ws.append(ws.con.from_arrow(reader), source=f"simulate:{business}",
                                project=project, kind="simulate", locked=True)
                inserted += res.inserted
                tot.events += ch.events
                tot.accounts += ch.n_accounts
                tot.persons += n
                del ch, reader
                if progress is not None:
                    progress(tot.persons, customers)
    except BaseException:
        for sink in (persons_sink, accounts_sink, fb_sink):
            sink.abort()
        if tot.error is not None:
            raise tot.error from None
        raise
    fb_sink.close(FEEDBACK_SCHEMA)
    persons_sink.close()
    if business == "b2b":
        accounts_sink.close()
    assert tot.counts is not None  # customers >= 1: at least one chunk
    summ = gt.summary(tot.counts, personas, business, fb_sink.rows)
    gt.write_json(out / "summary.json", {**summ, "seed": seed, "start": start.isoformat(), "days": days,
                                          "project": project, "accounts": tot.accounts})
    gt.write_json(out / "personas.json", {"business": business, "personas": [p.to_json() for p in personas]})
    gt.write_json(out / "pain_points.json", _pain_points(tot.counts, site.help_page))
    seconds = time.perf_counter() - t0
    return SimulationReport(
        business=business, project=project, customers=customers, accounts=tot.accounts,
        events=tot.events, inserted=inserted, orders=summ["orders"], revenue=summ["revenue"],
        feedback=fb_sink.rows, start=start.isoformat(), days=days, seed=seed,
        seconds=round(seconds, 3), generate_seconds=round(tot.generate_seconds, 3),
        events_per_second=round(tot.events / seconds, 1) if seconds > 0 else 0.0,
        ground_truth_dir=str(Path(out)),
    )


@contextlib.contextmanager
def _duckdb_memory_cap(ws: Workspace) -> Iterator[None]:
    """Cap DuckDB's memory while the simulator streams into it, unless the workspace sets
    its own limit. DuckDB's default (80 % of RAM) lets the partitioned COPY buffer
    gigabytes (5 GB RSS at 100k customers in one append, measured) that the Python side
    needs; with the cap it spills to the workspace's temp directory instead (3 GB RSS,
    not slower in our runs)."""
    if "memory_limit" in ws.config.get("engine", {}):
        yield
        return
    con = ws.con
    before = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    con.execute("SET memory_limit = ?", [DUCKDB_MEMORY_CAP]).fetchall()
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [str(before)]).fetchall()


def _pain_points(counts: gt.Counts, help_page: int) -> dict[str, object]:
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
            "measured": gt.payment_loss(counts),
        },
        "late_delivery": {
            "description": "Late deliveries cause complaint tickets, low NPS/CSAT and churn "
            "(no repeat purchase in the shop, contract cancelled in B2B).",
            "planted": {"late_prob": jr.LATE_PROB, "late_prob_factor_at_ch": 1.6,
                        "ticket_prob_if_late": jr.LATE_TICKET_PROB,
                        "ticket_prob_otherwise": jr.OTHER_TICKET_PROB,
                        "churn_prob_if_late": jr.LATE_CHURN_PROB, "churn_prob_otherwise": jr.BASE_CHURN_PROB,
                        "nps_penalty": jr.LATE_NPS_PENALTY},
            "measured": gt.late_delivery(counts),
        },
        "confusing_page_loop": {
            "description": "The shipping-costs/returns page confuses: some visits go back and "
            "forth between it and a product page (>= 3 views of the page) and end without checkout.",
            "page": SHOP_SITE.pages[help_page][0],
            "planted": {"min_help_views": jr.LOOP_MIN_HELP_VIEWS, "loop_length": [5, 7],
                        "loop_prob_per_visit": {p.key: p.loop for ps in PERSONAS.values() for p in ps},
                        "checkout_after_loop": 0.0},
            "measured": gt.loops(counts),
        },
    }
