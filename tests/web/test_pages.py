"""Every page on simulated shop data: content, drill-down, funnels, exports, bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxlens.engines.local import DuckDBEngine
from cxlens.journeys.funnels import funnel, spec_from_dict
from cxlens.store.workspace import Workspace
from cxlens.web import queries

PAGES = ("/", "/journey", "/funnels", "/paths", "/graph", "/retention", "/profiles", "/data")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_charts_or_tables(anna: TestClient, path: str) -> None:
    r = anna.get(path + "?days=90", headers={"accept-language": "en"})
    assert r.status_code == 200, r.text[:500]
    assert "Traceback" not in r.text
    assert 'aria-current="page"' in r.text  # the navigation marks where we are
    if path not in ("/profiles",):
        assert "<table" in r.text


def test_overview_shows_kpis_against_the_previous_period(anna: TestClient) -> None:
    html = anna.get("/?days=90", headers={"accept-language": "en"}).text
    for kpi in ("visitors", "conversion_rate", "revenue", "average_order_value",
                "repeat_purchase_rate", "churn_rate", "nps", "csat"):
        assert f'data-kpi="{kpi}"' in html
    assert "Previous period:" in html
    assert '<script src="/static/plotly.min.js">' in html


def test_plotly_is_served_locally(client: TestClient) -> None:
    r = client.get("/static/plotly.min.js")
    assert r.status_code == 200 and len(r.content) > 1_000_000
    assert client.get("/static/cx.css").status_code == 200
    locale = client.get("/static/plotly-locale-de.js").text
    assert locale.startswith("Plotly.register(") and "Januar" in locale and "März" in locale
    assert client.get("/static/../../etc/passwd").status_code == 404


def test_csv_export_holds_the_chart_table(anna: TestClient) -> None:
    r = anna.get("/journey?days=90&export=journey")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = {row["stage"]: int(row["persons"]) for row in rows if row["channel"] == "all"}
    assert total["awareness"] >= total["consideration"] >= total["purchase"] > 0
    by_channel = sum(int(row["persons"]) for row in rows
                     if row["stage"] == "purchase" and row["channel"] != "all")
    assert by_channel == total["purchase"]  # every person enters a stage through one channel


def test_journey_cell_lists_the_persons_and_events_behind_it(anna: TestClient) -> None:
    page = anna.get("/journey?days=90").text
    assert "/journey/cell?" in page
    r = anna.get("/journey/cell?days=90&stage=purchase&channel=")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(
        anna.get("/journey/cell?days=90&stage=purchase&export=events").text)))
    assert rows and {row["event"] for row in rows} <= {
        "Checkout Started", "Checkout Step Viewed", "Order Completed"}


def test_funnel_page_matches_the_journeys_funnel(anna: TestClient, shop_ws: Path) -> None:
    steps = ["Product Viewed", "Checkout Started", "Order Completed"]
    q = "&".join(f"step={s.replace(' ', '+')}" for s in steps)
    r = anna.get(f"/funnels?days=90&window=7d&breakdown=device&{q}&export=funnel")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    ws = Workspace.open(shop_ws)
    try:
        period = queries.last_days(90, queries.default_end(ws, "shop"))
        expected = funnel(DuckDBEngine(ws, "shop"), spec_from_dict({
            "steps": steps, "window": "7d", "since": period.since.isoformat(),
            "until": period.until.isoformat()}))
    finally:
        ws.close()
    assert [int(row["persons"]) for row in rows] == [s.persons for s in expected.steps]
    html = anna.get(f"/funnels?days=90&breakdown=device&{q}").text
    assert 'data-chart="breakdown"' in html


def test_bad_funnel_input_is_a_form_error_not_a_traceback(anna: TestClient) -> None:
    r = anna.get("/funnels?step=Product+Viewed&step=No+Such+Event", headers={"accept-language": "en"})
    assert r.status_code == 200 and 'class="error"' in r.text and "No Such Event" in r.text
    r = anna.get("/funnels?step=Product+Viewed&breakdown=bogus")
    assert r.status_code == 400 and "breakdown" in r.text
    assert anna.get("/journey/cell?stage=nowhere").status_code == 400
    assert anna.get("/?days=abc").status_code == 200  # falls back to 30 days


def test_profile_search_timeline_and_ids(anna: TestClient) -> None:
    found = anna.get("/profiles?q=u-").text
    assert "person=" in found
    person = found.split("person=")[1].split('"')[0].split("&")[0]
    page = anna.get(f"/profiles?person={person}", headers={"accept-language": "en"}).text
    assert "Timeline across channels" in page and "anonymous_id" in page and "user_id" in page


def test_targets_from_the_workspace_config_mark_misses(shop_ws: Path, anna: TestClient) -> None:
    config = shop_ws / "cxlens.toml"
    before = config.read_text()
    try:
        config.write_text(before + '\n[targets]\nconversion_rate = ">= 0.99"\nvisitors = ">= 1"\n')
        html = anna.get("/?days=90", headers={"accept-language": "en"}).text
        card = html.split('data-kpi="conversion_rate"')[0].rsplit('<div class="kpi', 1)[1]
        assert "missed" in card
        assert "Target met" in html and "Target missed" in html
        config.write_text(before + '\n[targets]\nconversion_rate = "about 3%"\n')
        r = anna.get("/?days=90")
        assert r.status_code == 400 and "targets" in r.text and "Traceback" not in r.text
    finally:
        config.write_text(before)


def test_data_page_shows_import_history_and_sources(anna: TestClient) -> None:
    html = anna.get("/data?days=90", headers={"accept-language": "en"}).text
    assert "Import history" in html and "simulate" in html and "cxlens_events_received" in html


def test_journey_map_follows_the_workspace_journey_definition(shop_ws: Path,
                                                              anna: TestClient) -> None:
    config = shop_ws / "cxlens.toml"
    before = config.read_text()
    try:
        config.write_text(before + '\n[dashboard]\njourney = "b2c"\n')
        rows = list(csv.DictReader(io.StringIO(
            anna.get("/journey?days=90&rows=touchpoint&export=journey").text)))
        stages = [r["stage"] for r in rows if r["channel"] == "all"]
        assert stages == ["Aufmerksamkeit", "Erwägung", "Kauf", "Lieferung", "Wiederkauf"]
        touchpoints = {r["channel"] for r in rows}
        assert {"Produktseite", "Bestellung", "Website-Besuch"} <= touchpoints
        # a second order enters "Wiederkauf", which no touchpoint maps to
        assert next(int(r["persons"]) for r in rows
                    if r["stage"] == "Wiederkauf" and r["channel"] == "all") > 0
        html = anna.get("/journey?days=90&rows=touchpoint").text
        assert "<th scope=\"col\">Erwägung</th>" in html and "rows=touchpoint" in html
        cell = anna.get("/journey/cell?days=90&stage=Kauf&channel=Bestellung&rows=touchpoint"
                        "&export=events")
        assert cell.status_code == 200
        events = {r["event"] for r in csv.DictReader(io.StringIO(cell.text))}
        assert "Order Completed" in events
        assert events <= {"Order Completed", "Checkout Started", "Checkout Step Viewed"}
        assert anna.get("/journey/cell?stage=purchase&rows=touchpoint").status_code == 400
    finally:
        config.write_text(before)
