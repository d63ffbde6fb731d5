"""Order tables become ``Order Completed`` events that dedupe by order id."""

from __future__ import annotations

from pathlib import Path

import pytest
from importfiles import events, journeys_of, write_csv, write_mapping

from cxlens.errors import ImportError_, MappingError
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


GERMAN_EXCEL = (
    "Bestellnummer;Kundennummer;Datum;Betrag;Anmerkung\r\n"
    "10001;K-Müller;23.11.2026 14:05;1.234,50;„Grüße“ \u2013 5 € Rabatt\r\n"
    "10002;K-Weiß;24.11.2026 09:15;19,99;\"Lieferung; bitte\"\r\n"
)


def test_a_german_excel_export_imports_with_its_encoding_decimal_comma_and_date_format(
    ws: Workspace, tmp_path: Path
) -> None:
    # Excel on a German Windows: ';' between fields, cp1252 (with €, „“ and the en dash in
    # 0x80-0x9F, which DuckDB's latin-1 refuses), decimal commas, day.month.year dates.
    # The delimiter needs no mapping; the encoding, decimal comma and date format do.
    folder = tmp_path / "Übersicht Kunden"
    folder.mkdir()
    file = folder / "bestellungen.csv"
    file.write_bytes(GERMAN_EXCEL.encode("cp1252"))
    mapping = write_mapping(folder / "bestellungen.toml", """
[csv]
encoding = "cp1252"
[orders]
amount = { column = "Betrag", decimal = "," }
date = { column = "Datum", format = "%d.%m.%Y %H:%M", timezone = "Europe/Berlin" }
currency = "EUR"
""")

    report = import_file(ws, file, mapping=mapping, project="de")

    assert (report.inserted, report.rejected) == (2, 0)
    first, second = sorted(events(ws, "de"), key=lambda e: e["timestamp"])
    assert (first["user_id"], first["revenue"], first["currency"]) == ("K-Müller", 1234.5, "EUR")
    assert first["timestamp"].isoformat() == "2026-11-23T13:05:00+00:00"
    assert first["properties"]["Anmerkung"] == "„Grüße“ \u2013 5 € Rabatt"
    assert second["properties"]["Anmerkung"] == "Lieferung; bitte"
    assert not list((ws.root / "_tmp").glob("import-*"))  # the UTF-8 copy is gone


def test_a_file_that_is_not_utf8_is_one_error_naming_the_encoding_to_set(
    ws: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "bestellungen.csv"
    file.write_bytes(GERMAN_EXCEL.encode("cp1252"))

    with pytest.raises(ImportError_, match=r"not UTF-8 \(byte 0xFC in line 2\).*encoding = \"cp1252\""):
        import_file(ws, file, format="orders")
    assert ws.events().count("*").fetchall() == [(0,)]


def test_a_semicolon_file_without_a_mapping_is_read_by_its_delimiter_and_a_decimal_comma_is_named(
    ws: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "bestellungen.csv"
    file.write_text("Bestellnummer;Kundennummer;Datum;Betrag\n10001;K-1;2026-11-23 14:05;19,99\n"
                    "10002;K-2;2026-11-24 09:00;5\n", encoding="utf-8")

    report = import_file(ws, file, format="orders")

    assert (report.inserted, report.rejected) == (1, 1)
    assert 'set decimal = ","' in report.first_rejects[0]


def test_german_dates_are_read_without_a_format(ws: Workspace, tmp_path: Path) -> None:
    # the orders guess knows 'Datum', 'Betrag', 'Kundennummer': the dates Excel writes there
    # were rejected unless the mapping gave fields.timestamp.format
    file = tmp_path / "bestellungen.csv"
    file.write_text("Bestellnummer;Kundennummer;Datum;Betrag\n"
                    "1;K-1;23.11.2026 14:05;5\n2;K-1;3.1.2026;5\n3;K-2;01.02.2026 08:00:30;5\n"
                    "4;K-2;2026-02-01 08:00:00;5\n5;K-3;31.02.2026;5\n", encoding="utf-8")
    mapping = write_mapping(tmp_path / "m.toml", '[orders]\ncurrency = "EUR"\n'
                            '[fields]\ntimestamp = { column = "Datum", timezone = "Europe/Berlin" }\n')

    report = import_file(ws, file, mapping=mapping)

    assert (report.inserted, report.rejected) == (4, 1)  # there is no 31 February
    times = sorted(e["timestamp"].isoformat() for e in events(ws))
    assert times == ["2026-01-02T23:00:00+00:00", "2026-02-01T07:00:00+00:00",
                     "2026-02-01T07:00:30+00:00", "2026-11-23T13:05:00+00:00"]


def test_umlauts_in_a_file_name_are_spelled_out_in_its_source_and_rejects_file(
    ws: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "Bestellungen März Köln.csv"
    file.write_text("Bestellnummer;Kundennummer;Datum;Betrag\n1;K-1;23.11.2026;5\n2;K-2;kein Datum;5\n",
                    encoding="utf-8")

    report = import_file(ws, file, format="orders")

    # both were 'Bestellungen_M_rz_K_ln.csv'
    assert report.source == "import:orders:Bestellungen_Maerz_Koeln.csv"
    assert str(report.rejects_file).endswith("-Bestellungen_Maerz_Koeln.csv.rejects.csv")


def test_a_non_utf8_line_after_the_first_megabyte_is_a_reject_naming_the_encoding(
    ws: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "gross.csv"
    rows = "".join(f"{i};K-{i};2026-11-23 10:00:00;5\n" for i in range(40_000))
    file.write_bytes(("Bestellnummer;Kundennummer;Datum;Betrag\n" + rows).encode()
                     + "99999;K-Jäger;2026-11-23 10:00:00;5\n".encode("cp1252"))

    report = import_file(ws, file, format="orders")

    assert (report.inserted, report.rejected) == (40_000, 1)
    assert 'encoding = "cp1252"' in report.first_rejects[0]
