"""Order tables become ``Order Completed`` events that dedupe by order id."""

from __future__ import annotations

from pathlib import Path

import pytest
from importfiles import events, journeys_of, write_csv, write_mapping

from cxlens.errors import MappingError
from cxlens.ingest.importers import import_file
from cxlens.store.workspace import Workspace

ORDERS = {
    "17850": [{"InvoiceNo": "536365", "InvoiceDate": "2010-12-01", "TotalPrice": "139.12"},
              {"InvoiceNo": "C536379", "InvoiceDate": "2010-12-02", "TotalPrice": "-27.50"}],
    "13047": [{"InvoiceNo": "536367", "InvoiceDate": "2010-12-01", "TotalPrice": "278.73"}],
}


def test_orders_with_common_column_names_need_no_mapping(ws: Workspace, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "invoices.csv", ORDERS, person_col="CustomerID")

    report = import_file(ws, file, format="orders")

    assert report.inserted == 3
    assert journeys_of(ws) == {"13047": ["Order Completed"],
                               "17850": ["Order Completed", "Order Refunded"]}
    first = events(ws)[1]
    assert (first["revenue"], first["channel"], first["type"]) == (139.12, "store", "track")
    assert first["properties"] == {"order_id": "536365"}
    assert events(ws)[2]["revenue"] == -27.5


def test_reimported_orders_dedupe_by_order_id_even_when_amounts_changed(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "invoices.csv", ORDERS, person_col="CustomerID")
    import_file(ws, file, format="orders")
    changed = {p: [o | {"TotalPrice": "1.00"} for o in evs] for p, evs in ORDERS.items()}
    again = write_csv(tmp_path / "invoices_v2.csv", changed, person_col="CustomerID")

    report = import_file(ws, again, format="orders")

    assert (report.inserted, report.duplicates) == (0, 3)


def test_orders_section_names_columns_and_currency(ws: Workspace, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "erp.csv", {
        "K1": [{"Beleg": "R-1", "Datum": "2024-03-01 09:30:00", "Summe": "99.90", "Firma": "ACME"}],
    }, person_col="Kunde")
    mapping = write_mapping(tmp_path / "m.toml", """
[orders]
order_id = "Beleg"
customer = "Kunde"
date = "Datum"
amount = "Summe"
account = "Firma"
currency = "EUR"
""")
    import_file(ws, file, format="orders", mapping=mapping)

    (e,) = events(ws)
    assert (e["user_id"], e["account_id"], e["currency"], e["revenue"]) == ("K1", "ACME", "EUR", 99.9)
    assert e["properties"]["order_id"] == "R-1"


def test_orders_without_a_recognisable_amount_column_ask_for_a_mapping(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "x.csv", {"a": [{"order_id": "1", "date": "2024-01-01", "x": "3"}]})

    with pytest.raises(MappingError, match="which column is the amount"):
        import_file(ws, file, format="orders")


def test_an_orders_section_makes_an_orders_import_and_its_fields_override_the_generated_ones(
    ws: Workspace, tmp_path: Path
) -> None:
    # docs/importing.md: "A [fields] section next to [orders] overrides any of the generated
    # fields"; such a mapping was refused ("section 'fields' needs event"), and one without
    # format = "orders" was read as a plain CSV mapping ("needs timestamp")
    file = write_csv(tmp_path / "invoices.csv", ORDERS, person_col="CustomerID")
    mapping = write_mapping(tmp_path / "m.toml", """
[orders]
currency = "GBP"
[fields]
timestamp = { column = "InvoiceDate", timezone = "Europe/London" }
""")

    report = import_file(ws, file, mapping=mapping)

    assert (report.format, report.inserted) == ("orders", 3)
    assert {e["currency"] for e in events(ws)} == {"GBP"}
    assert journeys_of(ws)["17850"] == ["Order Completed", "Order Refunded"]


def test_fields_that_only_override_still_have_their_own_rules_checked(tmp_path: Path) -> None:
    from cxlens.ingest.mapping import load_mapping

    with pytest.raises(MappingError, match=r"format/timezone belong to fields\.timestamp"):
        load_mapping(write_mapping(tmp_path / "m.toml", """
[orders]
[fields]
user_id = { column = "CustomerID", timezone = "Europe/London" }
"""))
