"""The shipped example mappings import the real sample files in ../shared/data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from importfiles import events

from cxlens.ingest.importers import import_file
from cxlens.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
MAPPINGS = REPO / "examples" / "mappings"

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real sample data not found at {DATA.resolve()}"
                       " (it lives beside the repository, not in it)"),
]


def persons_and_events(ws: Workspace, project: str) -> tuple[int, int]:
    (row,) = ws.events(project).aggregate("count(DISTINCT user_id), count(*)").fetchall()
    return int(row[0]), int(row[1])


@pytest.mark.slow
def test_bpic2012_xes_gives_every_application_and_event(ws: Workspace) -> None:
    report = import_file(ws, DATA / "journeys" / "bpic2012.xes.gz",
                         mapping=MAPPINGS / "bpic2012.toml", project="loans")

    assert (report.inserted, report.rejected) == (262_200, 0)
    assert persons_and_events(ws, "loans") == (13_087, 262_200)
    first = ws.events("loans").order("timestamp").limit(1).fetchall()[0]
    assert first[4] == "A_SUBMITTED"
    # a loan process is not web traffic: not one event is "direct"
    assert ws.events("loans").aggregate("channel, count(*)").fetchall() == [("process", 262_200)]


def test_receipt_csv_has_cases_as_persons_and_their_channel(ws: Workspace) -> None:
    report = import_file(ws, DATA / "journeys" / "receipt.csv",
                         mapping=MAPPINGS / "receipt.toml", project="receipt")

    assert (report.inserted, report.rejected) == (8_577, 0)
    assert persons_and_events(ws, "receipt") == (1_434, 8_577)
    channels = dict(ws.events("receipt").aggregate("channel, count(DISTINCT user_id)").fetchall())
    assert set(channels) == {"web", "desk", "post", "email", "internal"}


def test_rees46_cut_off_last_row_is_rejected_and_the_rest_imported(ws: Workspace) -> None:
    file = DATA / "shop" / "rees46_2019-10_first17k.csv"
    with file.open("rb") as fh:
        rows = fh.read().splitlines()  # the header plus every data row, the cut one last
    lines = len(rows)

    report = import_file(ws, file, mapping=MAPPINGS / "rees46.toml", project="shop")

    assert report.rejected == 1
    assert report.rows_read == lines - 1
    # only lines repeated byte for byte are duplicates: the sample has five such repeats,
    # and two views in two sessions in the same second are two events
    assert report.inserted == len(set(rows[1:-1]))
    assert report.inserted + report.duplicates == lines - 2
    with (ws.root / str(report.rejects_file)).open() as fh:
        (rej,) = list(csv.DictReader(fh))
    assert rej["line"] == str(lines) and rej["reason"].startswith("malformed CSV line")
    by_event = dict(ws.events("shop").aggregate("event, count(revenue)").fetchall())
    assert set(by_event) == {"Product Viewed", "Product Added", "Order Completed"}
    assert by_event["Product Viewed"] == 0 and by_event["Order Completed"] > 0


def test_online_retail_invoices_are_orders_in_pounds(ws: Workspace) -> None:
    report = import_file(ws, DATA / "retail" / "online_retail_invoices.csv",
                         mapping=MAPPINGS / "online_retail_orders.toml", project="retail")

    assert report.inserted == 18_532
    persons, _ = persons_and_events(ws, "retail")
    assert persons == 4_338
    currencies = dict(ws.events("retail").aggregate("currency, count(*)").fetchall())
    assert currencies == {"GBP": 18_532}


def test_olist_leads_and_closed_deals_form_b2b_journeys(ws: Workspace) -> None:
    leads = import_file(ws, DATA / "b2b" / "olist_leads_until_2018-02.csv",
                        mapping=MAPPINGS / "olist_leads.toml", project="b2b")
    deals = import_file(ws, DATA / "b2b" / "olist_closed_deals_of_those_leads.csv",
                        mapping=MAPPINGS / "olist_deals.toml", project="b2b")

    assert (leads.inserted, deals.inserted) == (4_171, 362)
    evs = events(ws, "b2b")
    won = {e["user_id"] for e in evs if e["event"] == "Deal Won"}
    created = {e["user_id"]: e["channel"] for e in evs if e["event"] == "Lead Created"}
    assert won <= set(created)  # every deal continues a lead's journey
    assert {"organic_search", "paid_search", "organic_social", "direct"} <= set(created.values())
    assert all(e["channel"] == "sales" and e["currency"] == "BRL" for e in evs if e["event"] == "Deal Won")
