"""Mapped CSV / JSON Lines / Parquet imports: what lands in the workspace."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from importfiles import (
    batches,
    events,
    journeys_of,
    write_csv,
    write_jsonl,
    write_mapping,
    write_text,
)

from cxlens.errors import BadRowsError, ImportError_, MappingError
from cxlens.ingest.importers import import_file
from cxlens.store.workspace import Workspace

SHOP_MAPPING = """
[fields]
timestamp = { column = "when", format = "%d.%m.%Y %H:%M", timezone = "Europe/Berlin" }
user_id = "customer"
channel = { value = "store" }
revenue = { column = "price", when_event = ["Order Completed"] }
currency = { value = "EUR", when_event = ["Order Completed"] }
[fields.event]
column = "what"
map = { view = "Product Viewed", cart = "Product Added", purchase = "Order Completed" }
[properties]
columns = "remaining"
rename = { sku = "product_id" }
"""

SHOP = {
    "anna": [
        {"when": "01.05.2024 10:00", "what": "view", "sku": "A-1", "price": "19.99", "zip": "01067"},
        {"when": "01.05.2024 10:05", "what": "cart", "sku": "A-1", "price": "19.99", "zip": "01067"},
        {"when": "01.05.2024 10:09", "what": "purchase", "sku": "A-1", "price": "19.99", "zip": "01067"},
    ],
    "ben": [{"when": "02.05.2024 23:30", "what": "view", "sku": "B-7", "price": "5", "zip": "80331"}],
}


def test_csv_journeys_become_events_with_rewritten_names_and_revenue_only_on_purchases(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "shop.csv", SHOP)
    mapping = write_mapping(tmp_path / "shop.toml", SHOP_MAPPING)

    report = import_file(ws, file, format="csv", mapping=mapping)

    assert (report.rows_read, report.inserted, report.rejected) == (4, 4, 0)
    assert journeys_of(ws) == {
        "anna": ["Product Viewed", "Product Added", "Order Completed"],
        "ben": ["Product Viewed"],
    }
    anna = [e for e in events(ws) if e["user_id"] == "anna"]
    assert [e["revenue"] for e in anna] == [None, None, 19.99]
    assert [e["currency"] for e in anna] == [None, None, "EUR"]
    assert {e["channel"] for e in anna} == {"store"}
    # naive local times in Berlin (CEST, +02:00) are stored in UTC
    assert anna[0]["timestamp"] == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    # columns not mapped to a field are properties; postcodes stay text
    assert anna[0]["properties"] == {"product_id": "A-1", "zip": "01067"}


def test_importing_the_same_file_twice_adds_nothing(ws: Workspace, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "shop.csv", SHOP)
    mapping = write_mapping(tmp_path / "shop.toml", SHOP_MAPPING)

    first = import_file(ws, file, format="csv", mapping=mapping)
    again = import_file(ws, file, format="csv", mapping=mapping, source="import:again")

    assert first.inserted == 4
    assert (again.inserted, again.duplicates) == (0, 4)
    assert len(events(ws)) == 4


def test_context_columns_become_page_and_campaign_and_give_the_channel(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "web.csv", {
        "v1": [{"ts": "2024-05-01T10:00:00Z", "url": "https://shop.de/?gclid=x", "ref": "",
                "utm_source": "", "utm_medium": ""}],
        "v2": [{"ts": "2024-05-01T11:00:00+02:00", "url": "https://shop.de/", "ref": "",
                "utm_source": "newsletter", "utm_medium": "email"}],
    }, person_col="visitor")
    mapping = write_mapping(tmp_path / "web.toml", """
[fields]
timestamp = "ts"
anonymous_id = "visitor"
type = { value = "page" }
[context]
"page.url" = "url"
"page.referrer" = "ref"
"campaign.source" = "utm_source"
"campaign.medium" = "utm_medium"
""")
    import_file(ws, file, format="csv", mapping=mapping)

    by_person = {e["anonymous_id"]: e for e in events(ws)}
    assert by_person["v1"]["channel"] == "paid_search"
    assert by_person["v2"]["channel"] == "email"
    assert by_person["v2"]["context"]["campaign"] == {"source": "newsletter", "medium": "email"}
    assert by_person["v2"]["timestamp"] == datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    assert by_person["v1"]["type"] == "page"
    assert by_person["v1"]["properties"] is None


URL_ONLY_VISITS = {
    "v1": [{"kind": "page", "ts": "2024-05-01T10:00:00Z",
            "url": "https://shop.de/?utm_source=newsletter&utm_medium=email&utm_campaign=x"}],
    # url-encoded, '+' for a space, a bad escape kept raw, the fragment not read
    "v2": [{"kind": "page", "ts": "2024-05-01T10:01:00Z",
            "url": "https://shop.de/p?a=1&utm_source=google&utm_medium=cpc"
                   "&utm_campaign=spring%20sale+2024&utm_term=%C3#utm_content=no"}],
    "v3": [{"kind": "page", "ts": "2024-05-01T10:02:00Z", "url": "https://shop.de/"}],
    # a tracked event whose URL has utm parameters is classified, as by the collector
    "v4": [{"kind": "track", "ts": "2024-05-01T10:03:00Z", "url": "https://shop.de/x?utm_source=facebook&utm_medium=social"}],
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_utm_parameters_in_a_page_url_alone_give_the_campaign_and_the_channel(
    ws: Workspace, tmp_path: Path, fmt: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "csv":
        file = write_csv(tmp_path / "web.csv", URL_ONLY_VISITS, person_col="visitor")
    elif fmt == "jsonl":
        file = write_jsonl(tmp_path / "web.jsonl", URL_ONLY_VISITS, person_col="visitor")
    else:
        rows = [{"visitor": p, **ev} for p, evs in URL_ONLY_VISITS.items() for ev in evs]
        file = tmp_path / "web.parquet"
        pq.write_table(pa.Table.from_pylist(rows), file)
    mapping = write_mapping(tmp_path / "web.toml", """
[fields]
timestamp = "ts"
anonymous_id = "visitor"
type = "kind"
[context]
"page.url" = "url"
""")
    import_file(ws, file, format=fmt, mapping=mapping)

    by_person = {e["anonymous_id"]: e for e in events(ws)}
    assert by_person["v1"]["channel"] == "email"
    assert by_person["v1"]["context"]["campaign"] == {
        "source": "newsletter", "medium": "email", "name": "x"}
    assert by_person["v2"]["channel"] == "paid_search"
    assert by_person["v2"]["context"]["campaign"] == {
        "source": "google", "medium": "cpc", "name": "spring sale 2024", "term": "%C3"}
    assert by_person["v3"]["channel"] == "direct"
    assert by_person["v3"]["context"] == {"page": {"url": "https://shop.de/"}}
    assert by_person["v4"]["type"] == "track" and by_person["v4"]["channel"] == "organic_social"
    # the URL moved into the context, in every format: not also a property
    assert all("url" not in (e["properties"] or {}) for e in by_person.values())


def test_a_mapped_campaign_column_wins_over_the_url_and_an_empty_one_falls_back_to_it(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "web.csv", {
        "v1": [{"ts": "2024-05-01T10:00:00Z", "url": "https://shop.de/?utm_source=google&utm_medium=cpc",
                "src": "newsletter", "med": "email"}],
        "v2": [{"ts": "2024-05-01T10:01:00Z", "url": "https://shop.de/?utm_source=google&utm_medium=cpc",
                "src": "", "med": ""}],
    }, person_col="visitor")
    mapping = write_mapping(tmp_path / "web.toml", """
[fields]
timestamp = "ts"
anonymous_id = "visitor"
type = { value = "page" }
[context]
"page.url" = "url"
"campaign.source" = "src"
"campaign.medium" = "med"
""")
    import_file(ws, file, format="csv", mapping=mapping)

    by_person = {e["anonymous_id"]: e for e in events(ws)}
    assert (by_person["v1"]["channel"], by_person["v1"]["context"]["campaign"]) == (
        "email", {"source": "newsletter", "medium": "email"})
    assert (by_person["v2"]["channel"], by_person["v2"]["context"]["campaign"]) == (
        "paid_search", {"source": "google", "medium": "cpc"})


WEB_VISITS = [
    ("https://www.shop.de/p/2", "https://www.shop.de/p/1", "", "", "page"),  # internal
    ("https://www.shop.de/", "https://www.google.de/search?q=x", "", "", "page"),
    ("https://www.shop.de/?gclid=1", "https://www.google.de/", "", "", "page"),
    ("https://www.shop.de/?sccid=1", "", "", "", "page"),
    ("https://www.shop.de/", "https://user@m.facebook.com:443/", "", "", "page"),
    ("https://www.shop.de/", "", "newsletter", "email", "page"),
    ("https://www.shop.de/", "android-app://com.google.android.gm/", "", "", "page"),
    ("https://www.shop.de/x?ttclid=2", "https://www.shop.de/", "", "", "track"),
    ("https://www.shop.de/x", "https://blog.example.org/", "", "", "track"),
    ("", "", "", "", "page"),
]
WEB_MAPPING = """
[fields]
timestamp = "ts"
anonymous_id = "visitor"
type = "kind"
[context]
"page.url" = "url"
"page.referrer" = "ref"
"campaign.source" = "utm_source"
"campaign.medium" = "utm_medium"
"""


@pytest.mark.parametrize("encoding", ["csv", "parquet-dictionary", "parquet-plain"])
def test_a_web_log_gets_the_same_channels_from_csv_and_from_parquet_however_encoded(
    tmp_path: Path, encoding: str
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cxlens.ingest.sources import open_source
    from cxlens.ingest.tabular import dictionary_encoded_inputs

    table = pa.table({
        "visitor": [f"v{i}" for i in range(len(WEB_VISITS))],
        "ts": [f"2024-05-01T10:{i:02d}:00Z" for i in range(len(WEB_VISITS))],
        **{name: [v[k] for v in WEB_VISITS]
           for k, name in enumerate(("url", "ref", "utm_source", "utm_medium", "kind"))},
    })
    mapping = write_mapping(tmp_path / "web.toml", WEB_MAPPING)
    if encoding == "csv":
        file = tmp_path / "web.csv"
        import pyarrow.csv as pacsv
        pacsv.write_csv(table, file)
    else:
        file = tmp_path / "web.parquet"
        pq.write_table(table, file, use_dictionary=encoding == "parquet-dictionary")
    ws = Workspace.init(tmp_path / "ws")
    import_file(ws, file, mapping=mapping)

    channels = {e["anonymous_id"]: e["channel"] for e in events(ws)}
    assert [channels[f"v{i}"] for i in range(len(WEB_VISITS))] == [
        None, "organic_search", "paid_search", "paid_social", "organic_social", "email", "email",
        "paid_social", None, "direct"]
    from cxlens.ingest.mapping import load_mapping
    m = load_mapping(mapping)
    src = open_source(ws.con, file, "csv" if encoding == "csv" else "parquet", m.csv)
    # only there are the channel inputs prepared once per distinct value
    assert dictionary_encoded_inputs(ws.con, m, src) == (encoding == "parquet-dictionary")


def test_semicolon_csv_with_german_decimal_comma(ws: Workspace, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "crm.csv", {
        "K-1": [{"Datum": "03.02.2024 14:15", "Betrag": "1.234,50"}],
    }, person_col="Kunde", delimiter=";")
    mapping = write_mapping(tmp_path / "crm.yaml", """
csv: {delimiter: ";"}
fields:
  timestamp: {column: Datum, format: "%d.%m.%Y %H:%M", timezone: Europe/Berlin}
  user_id: Kunde
  event: {value: Deal Won}
  channel: {value: sales}
  revenue: {column: Betrag, decimal: ","}
""")
    import_file(ws, file, format="csv", mapping=mapping)

    (e,) = events(ws)
    assert (e["event"], e["revenue"], e["channel"]) == ("Deal Won", 1234.5, "sales")
    assert e["timestamp"] == datetime(2024, 2, 3, 13, 15, tzinfo=UTC)


def test_jsonl_nested_keys_and_remaining_properties(ws: Workspace, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "ev.jsonl", {
        "u1": [{"at": "2024-05-01 10:00:00", "name": "Signed Up", "plan": {"tier": "pro"}, "seats": 3}],
    }, person_col="uid")
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "at"
event = "name"
user_id = "uid"
account_id = "plan.tier"
""")
    import_file(ws, file, format="jsonl", mapping=mapping)

    (e,) = events(ws)
    assert (e["user_id"], e["event"], e["account_id"]) == ("u1", "Signed Up", "pro")
    assert e["properties"] == {"seats": 3}  # plan.tier moved to account_id, plan left empty


def test_jsonl_nested_keys_used_as_fields_move_out_of_the_properties(ws: Workspace, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "ev.jsonl", {"u1": [
        {"at": "2024-05-01 10:00:00", "name": "Order Completed",
         "context": {"page": {"url": "https://shop.example/checkout", "title": "Kasse"}, "ip": "10.0.0.0"},
         "properties": {"order_id": "o-1", "total": 9.5}},
        # parents that are not objects are data, kept as they are
        {"at": "2024-05-01 10:01:00", "name": "Order Completed", "context": "app", "properties": ["o-2"]},
    ]}, person_col="uid")
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "at"
event = "name"
user_id = "uid"
event_id = "properties.order_id"
[context]
"page.url" = "context.page.url"
[properties]
exclude = ["context.ip"]
""")
    import_file(ws, file, format="jsonl", mapping=mapping)

    first, second = events(ws)
    assert (first["event_id"], first["context"]["page"]["url"]) == ("o-1", "https://shop.example/checkout")
    assert first["properties"] == {"context": {"page": {"title": "Kasse"}}, "properties": {"total": 9.5}}
    assert second["properties"] == {"context": "app", "properties": ["o-2"]}


def test_jsonl_remaining_properties_honour_rename_and_types(ws: Workspace, tmp_path: Path) -> None:
    # both were ignored for JSON Lines: sku stayed sku, qty stayed text
    file = write_jsonl(tmp_path / "ev.jsonl", {"u1": [
        {"at": "2024-05-01 10:00:00", "name": "Product Added", "sku": "01067", "qty": "3", "note": "x"},
        {"at": "2024-05-01 10:01:00", "name": "Product Added", "qty": "drei"},
    ]}, person_col="uid")
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "at"
event = "name"
user_id = "uid"
[properties]
rename = { sku = "product_id" }
types = { qty = "number" }
""")
    import_file(ws, file, format="jsonl", mapping=mapping)

    first, second = events(ws)
    assert first["properties"] == {"product_id": "01067", "qty": 3, "note": "x"}
    assert second["properties"] == {"qty": "drei"}  # not a number: kept as text, nothing lost


def test_a_csv_column_used_as_a_field_is_not_also_a_property(ws: Workspace, tmp_path: Path) -> None:
    file = write_text(tmp_path / "ev.csv", "at,name,uid,properties.order_id,qty\n"
                                           "2024-05-01 10:00:00,Order Completed,u1,o-1,2\n")
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "at"
event = "name"
user_id = "uid"
event_id = "properties.order_id"
""")
    import_file(ws, file, format="csv", mapping=mapping)

    (e,) = events(ws)
    assert (e["event_id"], e["properties"]) == ("o-1", {"qty": 2})


def test_parquet_with_typed_timestamp_and_numeric_revenue(ws: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "orders.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('c1', TIMESTAMP '2024-05-01 10:00', 10.5::DOUBLE, 'o1'),"
        " ('c2', TIMESTAMP '2024-05-02 11:00', 20::DOUBLE, 'o2')) t(cust, ts, total, oid))"
        f" TO '{file}' (FORMAT parquet)"
    )
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "ts"
user_id = "cust"
event = { value = "Order Completed" }
revenue = "total"
event_id = { from = ["oid"], prefix = "order" }
""")
    report = import_file(ws, file, format="parquet", mapping=mapping)

    assert report.inserted == 2
    got = {e["user_id"]: (e["timestamp"], e["revenue"], e["properties"]) for e in events(ws)}
    assert got["c1"] == (datetime(2024, 5, 1, 10, tzinfo=UTC), 10.5, {"oid": "o1"})


def test_parquet_bad_rows_are_named_by_row_and_the_good_ones_imported(
    ws: Workspace, tmp_path: Path
) -> None:
    # a Parquet file is first asked whether it has any bad row at all; when it has,
    # the full check pass still names each one
    file = tmp_path / "events.parquet"
    duckdb.connect().execute(
        "COPY (SELECT * FROM (VALUES ('u1', TIMESTAMPTZ '2024-05-01 10:00+00', 'track'),"
        " ('u2', NULL, 'track'), ('u3', TIMESTAMPTZ '2024-05-01 11:00+00', 'click'),"
        " ('u4', TIMESTAMPTZ '2024-05-01 12:00+00', 'page')) t(who, ts, kind))"
        f" TO '{file}' (FORMAT parquet)"
    )
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "ts"
user_id = "who"
type = "kind"
event = { value = "Visited" }
""")
    report = import_file(ws, file, format="parquet", mapping=mapping)

    assert (report.inserted, report.rejected) == (2, 2)
    assert report.first_rejects == ("row 2, column ts: missing timestamp",
                                    "row 3, column kind: unknown type click; use one of "
                                    "alias, group, identify, page, screen, track")
    assert sorted(e["user_id"] for e in events(ws)) == ["u1", "u4"]
    with pytest.raises(BadRowsError):
        import_file(ws, file, format="parquet", mapping=mapping, strict=True)


def test_context_json_text_is_what_duckdb_writes_for_the_same_object() -> None:
    from cxlens.ingest.tabular import _json_text

    con = duckdb.connect()
    values = ['a"b', "back\\slash", "nl\nx", "ctl\x01", "ümlaut €", "/s/", "", None]
    built = _json_text({"page": {"url": "v", "Ref": "v"}, "device": {"type": "v"}, "x": "v"})
    struct = "to_json({'page': {'url': v, 'Ref': v}, 'device': {'type': v}, 'x': v})"
    for v in values:
        got, want = con.execute(f"SELECT {built}, CAST({struct} AS VARCHAR) FROM (SELECT ?::VARCHAR AS v)",
                                [v]).fetchall()[0]
        assert got == want
    # keys that differ only in case (no DuckDB struct can hold them) as json_object has them
    got, want = con.execute(
        f"SELECT {_json_text({'Page': 'v', 'page': 'v'})}, CAST(json_object('Page', v, 'page', v)"
        " AS VARCHAR) FROM (SELECT 'x' AS v)").fetchall()[0]
    assert got == want == '{"Page":"x","page":"x"}'


def test_properties_text_of_plain_columns_is_what_json_object_writes(tmp_path: Path) -> None:
    # the derived event id digests the properties text: building it more cheaply must
    # not change a byte, or re-imports of older imports would add every row again
    from cxlens.ingest.mapping import Mapping, load_mapping
    from cxlens.ingest.sources import open_source
    from cxlens.ingest.tabular import build_query

    file = tmp_path / "p.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES (TIMESTAMPTZ '2024-05-01 10:00+00', 'a\"b\\\\c', 0.1 + 0.2),"
        " (TIMESTAMPTZ '2024-05-01 11:00+00', NULL, 'nan'::DOUBLE),"
        " (TIMESTAMPTZ '2024-05-01 12:00+00', 'ü' || chr(10), NULL)) t(ts, sku, price))"
        f" TO '{file}' (FORMAT parquet)"
    )
    mapping = write_mapping(tmp_path / "m.toml", '[fields]\ntimestamp = "ts"\nevent = { value = "Viewed" }\n')
    m: Mapping = load_mapping(mapping)
    q = build_query(m, open_source(con, file, "parquet", m.csv))
    assert "json_object" not in q.items
    got = [r[0] for r in con.execute(f"SELECT properties FROM ({q.write_sql()}) ORDER BY timestamp").fetchall()]
    want = [r[0] for r in con.execute(
        f"SELECT CAST(json_object('sku', sku, 'price', price) AS VARCHAR) FROM '{file}' ORDER BY ts"
    ).fetchall()]
    assert got == want


def test_strict_import_writes_nothing_when_one_row_is_bad(ws: Workspace, tmp_path: Path) -> None:
    people = {**SHOP, "cara": [{"when": "gestern", "what": "view", "sku": "C", "price": "1", "zip": "1"}]}
    file = write_csv(tmp_path / "shop.csv", people)
    mapping = write_mapping(tmp_path / "shop.toml", SHOP_MAPPING)

    with pytest.raises(BadRowsError) as info:
        import_file(ws, file, format="csv", mapping=mapping, strict=True)

    assert "line 6, column when: cannot parse gestern" in info.value.message
    assert events(ws) == []
    assert batches(ws) == []
    assert list((ws.root / "rejects").iterdir()) == []
    assert list((ws.root / "events").rglob("*.parquet")) == []


BAD_ROWS = [
    # (what the bad row looks like, mapping extra, expected column, reason fragment)
    pytest.param('{"when": "31.02.2024 10:00"}', "", "when", "cannot parse 31.02.2024 10:00",
                 id="unparsable-timestamp"),
    pytest.param('{"when": ""}', "", "when", "missing timestamp", id="missing-timestamp"),
    pytest.param('{"customer": ""}', "", "customer", "missing person id", id="missing-person"),
    pytest.param('{"price": "zwölf"}', "", "price", "revenue zwölf is not a number",
                 id="non-numeric-revenue"),
    pytest.param('{"kind": "click"}', 'type = "kind"', "kind", "unknown type click",
                 id="unknown-type"),
]


@pytest.mark.parametrize(("bad", "extra", "column", "reason"), BAD_ROWS)
def test_each_kind_of_bad_value_lands_in_the_rejects_file_and_the_rest_is_imported(
    ws: Workspace, tmp_path: Path, bad: str, extra: str, column: str, reason: str
) -> None:
    import json

    good = {"when": "01.05.2024 10:00", "what": "purchase", "price": "9.5", "kind": "track"}
    people = {"anna": [good, good | {"when": "01.05.2024 11:00"}], "ben": [good]}
    people["ben"].append(good | {"customer_override": True} | json.loads(bad))
    rows = [{"customer": p, **{k: v for k, v in ev.items() if k != "customer_override"}}
            for p, evs in people.items() for ev in evs]
    file = tmp_path / "shop.csv"
    with file.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["customer", "when", "what", "price", "kind"])
        w.writeheader()
        w.writerows(rows)
    mapping = write_mapping(tmp_path / "m.toml", SHOP_MAPPING.replace(
        'channel = { value = "store" }', 'channel = { value = "store" }\n' + extra))

    report = import_file(ws, file, format="csv", mapping=mapping)

    assert (report.inserted, report.rejected) == (3, 1)
    assert report.rejects_file is not None
    with (ws.root / report.rejects_file).open() as fh:
        (rej,) = list(csv.DictReader(fh))
    assert (rej["row"], rej["line"], rej["column"]) == ("4", "5", column)
    assert reason in rej["reason"]
    assert rej["raw"].startswith(rows[3]["customer"] + ",")
    (batch,) = batches(ws)
    assert (batch["rejected"], batch["rejects_path"]) == (1, report.rejects_file)


def test_malformed_csv_lines_are_rejected_with_their_file_line(ws: Workspace, tmp_path: Path) -> None:
    file = write_csv(tmp_path / "shop.csv", SHOP, extra_lines=[
        "carl,01.05.2024 12:00,view",                       # a column short
        "dora,01.05.2024 12:00,view,X,1,2,3",                # columns too many
        'emil,01.05.2024 12:00,"view,S,1,01067',             # quote never closed
    ])
    mapping = write_mapping(tmp_path / "shop.toml", SHOP_MAPPING)

    report = import_file(ws, file, format="csv", mapping=mapping)

    assert (report.inserted, report.rejected) == (4, 3)
    with (ws.root / str(report.rejects_file)).open() as fh:
        rejects = list(csv.DictReader(fh))
    assert [r["line"] for r in rejects] == ["6", "7", "8"]
    assert all(r["reason"].startswith("malformed CSV line") for r in rejects)
    assert "unterminated quote" in rejects[2]["reason"]
    assert rejects[0]["raw"] == "carl,01.05.2024 12:00,view"


def test_value_rejects_after_a_malformed_line_name_the_right_line(ws: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "f.csv"
    file.write_text("customer,when,what\na,01.05.2024 10:00\nb,01.05.2024 10:00,view\nc,nie,view\n")
    mapping = write_mapping(tmp_path / "m.toml", SHOP_MAPPING.replace(
        'revenue = { column = "price", when_event = ["Order Completed"] }\n', ""))

    report = import_file(ws, file, format="csv", mapping=mapping)

    with (ws.root / str(report.rejects_file)).open() as fh:
        lines = {r["line"]: r["column"] for r in csv.DictReader(fh)}
    assert lines == {"2": "what", "4": "when"}


def test_invalid_json_lines_are_rejected_and_the_rest_imported(ws: Workspace, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "ev.jsonl", {
        "u1": [{"at": "2024-05-01 10:00:00", "name": "A"}, {"at": "2024-05-01 10:01:00", "name": "B"}],
    }, person_col="uid", extra_lines=['{"uid": "u2", "at": ', '[1, 2]'])
    mapping = write_mapping(tmp_path / "m.toml", '[fields]\ntimestamp = "at"\nevent = "name"\nuser_id = "uid"\n')

    report = import_file(ws, file, format="jsonl", mapping=mapping)

    assert (report.inserted, report.rejected) == (2, 2)
    with (ws.root / str(report.rejects_file)).open() as fh:
        rejects = list(csv.DictReader(fh))
    assert [(r["line"], r["reason"][:12]) for r in rejects] == [("3", "invalid JSON"), ("4", "the line is ")]
    assert rejects[0]["raw"] == '{"uid": "u2", "at": '


def test_mapping_mistakes_are_one_clear_error_before_anything_is_read(
    ws: Workspace, tmp_path: Path
) -> None:
    file = write_csv(tmp_path / "shop.csv", SHOP)
    cases = {
        SHOP_MAPPING.replace('user_id = "customer"', 'user_id = "kunde"'): "column 'kunde' is not in shop.csv",
        SHOP_MAPPING.replace('timezone = "Europe/Berlin"', 'timezone = "Europe/Bonn"'): "not a time zone",
        SHOP_MAPPING + "\n[fields2]\n": "unknown section 'fields2'",
        SHOP_MAPPING.replace("[fields]", "[fields]\nprice = \"price\""): "unknown field 'price'",
        # an unknown encoding was a LookupError traceback
        SHOP_MAPPING + '\n[csv]\nencoding = "klingon"\n': "csv.encoding 'klingon' is not a text encoding",
        # a wrong delimiter reads the whole header as one column: say so
        SHOP_MAPPING + '\n[csv]\ndelimiter = ";"\n': "csv.delimiter",
        # tracebacks, or "no" read as true
        SHOP_MAPPING + '\n[csv]\nskip = "x"\n': "csv.skip must be a whole number",
        SHOP_MAPPING + '\n[csv]\nskip = -1\n': "csv.skip must be a whole number",
        SHOP_MAPPING + '\n[csv]\nquote = "ab"\n': "csv.quote must be one character",
        SHOP_MAPPING + '\n[csv]\nheader = "no"\n': "csv.header must be true or false",
    }
    for text, message in cases.items():
        with pytest.raises(MappingError, match=message):
            import_file(ws, file, format="csv", mapping=write_mapping(tmp_path / "m.toml", text))
    assert batches(ws) == []


def test_an_xml_or_json_file_read_as_csv_says_what_it_is(ws: Workspace, tmp_path: Path) -> None:
    # the error listed the XML declaration or the first JSON keys as "its columns"
    xml = write_text(tmp_path / "log.xes.gz", '<?xml version="1.0" encoding="UTF-8" ?>\n<log>\n</log>\n', gz=True)
    jsonl = write_text(tmp_path / "ev.csv", '{"at": "2024-05-01T10:00:00Z", "name": "A", "customer": "u"}\n')
    mapping = write_mapping(tmp_path / "m.toml", SHOP_MAPPING)
    with pytest.raises(MappingError, match="it is XML, not CSV: an XES event log is imported with --format xes"):
        import_file(ws, xml, format="csv", mapping=mapping)
    with pytest.raises(MappingError, match="it is JSON, not CSV: use --format jsonl"):
        import_file(ws, jsonl, format="csv", mapping=mapping)
    assert batches(ws) == []


def test_a_nested_key_in_a_parquet_mapping_says_parquet_columns_are_named_whole(
    ws: Workspace, tmp_path: Path
) -> None:
    # it said only "not in the file; its columns are: ..., context", context being right there
    file = tmp_path / "nested.parquet"
    duckdb.connect().execute(
        "COPY (SELECT TIMESTAMP '2024-05-01 10:00' AS at, 'u1' AS uid, {'page': {'url': 'https://x.example/'}}"
        f" AS context) TO '{file}' (FORMAT parquet)")
    mapping = write_mapping(tmp_path / "m.toml", '[fields]\ntimestamp = "at"\nuser_id = "uid"\n'
                                                 'event = { value = "Page" }\n[context]\n"page.url" = "context.page.url"\n')
    with pytest.raises(MappingError, match=r"'context' is a column of type STRUCT\(page STRUCT\(url VARCHAR\)\): "
                                           "a Parquet mapping names whole columns"):
        import_file(ws, file, mapping=mapping)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("rows", [2_000, 60_000], ids=["small", "past-the-sniffed-megabyte"])
def test_a_cut_off_gzip_csv_or_jsonl_file_is_one_clear_error_and_writes_nothing(
    ws: Workspace, tmp_path: Path, fmt: str, rows: int
) -> None:
    import gzip
    import random

    rnd = random.Random(1)  # incompressible padding, so half the bytes are half the rows
    if fmt == "csv":
        text = "customer,when,what\n" + "".join(
            f"p{i},2024-05-01 10:00,{rnd.getrandbits(96):x}\n" for i in range(rows))
    else:
        text = "".join(json.dumps({"customer": f"p{i}", "when": "2024-05-01 10:00",
                                   "what": f"{rnd.getrandbits(96):x}"}) + "\n" for i in range(rows))
    whole = gzip.compress(text.encode())
    file = tmp_path / f"cut.{fmt}.gz"
    file.write_bytes(whole[: len(whole) // 2])
    mapping = write_mapping(tmp_path / "m.toml", '[fields]\ntimestamp = "when"\nevent = "what"\n'
                                                 'user_id = "customer"\n')

    # a big file said "cannot read as CSV: IO Error: Unexpected end of GZIP stream"
    with pytest.raises(ImportError_, match=r"^cut\.\w+\.gz is cut off or not valid gzip .*nothing was imported"):
        import_file(ws, file, format=fmt, mapping=mapping)
    assert batches(ws) == [] and events(ws) == []
    rejects = ws.root / "rejects"
    assert not rejects.exists() or not any(rejects.iterdir())


def test_a_wrong_timestamp_format_rejects_every_row_and_the_file_lists_them_all(
    ws: Workspace, tmp_path: Path
) -> None:
    n = 2500  # more than the importer keeps in memory
    file = tmp_path / "many.csv"
    file.write_text("customer,when,what\n" + "".join(f"p{i},2024-05-01 10:00,view\n" for i in range(n))
                    + "late,01.05.2024,view,extra\n")
    mapping = write_mapping(tmp_path / "m.toml", SHOP_MAPPING.replace(
        'revenue = { column = "price", when_event = ["Order Completed"] }\n', ""))

    with pytest.raises(BadRowsError, match=f"^{n + 1} bad rows"):
        import_file(ws, file, format="csv", mapping=mapping, strict=True)
    report = import_file(ws, file, format="csv", mapping=mapping)

    assert (report.inserted, report.rejected) == (0, n + 1)
    assert report.first_rejects[0].startswith("line 2, column when: cannot parse 2024-05-01 10:00")
    with (ws.root / str(report.rejects_file)).open() as fh:
        lines = [int(r["line"]) for r in csv.DictReader(fh)]
    assert lines == list(range(2, n + 3))


def test_a_jsonl_key_that_first_appears_late_in_the_file_is_found(ws: Workspace, tmp_path: Path) -> None:
    # JSON Lines have no header: revenue appears only on purchases, here after 1,500 views
    lines = [json.dumps({"at": "2024-05-01T10:00:00Z", "name": "Viewed", "uid": f"u{i}"}) for i in range(1500)]
    lines.append(json.dumps({"at": "2024-05-01T11:00:00Z", "name": "Bought", "uid": "u1",
                             "order": {"total": 9.5}, "coupon": "X"}))
    file = write_text(tmp_path / "late.jsonl", "\n".join(lines) + "\n")
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "at"
event = "name"
user_id = "uid"
revenue = { column = "order.total", when_event = ["Bought"] }
""")
    report = import_file(ws, file, format="jsonl", mapping=mapping)
    assert (report.inserted, report.rejected) == (1501, 0)
    bought = [e for e in events(ws) if e["event"] == "Bought"]
    assert bought[0]["revenue"] == 9.5 and bought[0]["properties"]["coupon"] == "X"
    with pytest.raises(MappingError, match=r"'ordr\.total' is not in late\.jsonl"):  # a typo still is
        import_file(ws, file, format="jsonl", mapping=write_mapping(
            tmp_path / "m2.toml", mapping.read_text().replace("order.total", "ordr.total")))


def test_rows_that_differ_only_in_amount_session_or_page_are_distinct_events_and_reimport_adds_none(
    ws: Workspace, tmp_path: Path
) -> None:
    # REES46 has two views of one product by one user in the same second, in two sessions;
    # the derived id digested neither the session, the revenue nor the context, so each
    # pair below was stored as one event
    file = write_text(tmp_path / "same-second.csv", (
        "ts,uid,ev,amount,url,session\n"
        "2026-11-01 10:00:00,u1,Order Completed,10.00,https://s.de/a,s1\n"
        "2026-11-01 10:00:00,u1,Order Completed,25.00,https://s.de/a,s1\n"
        "2026-11-01 10:00:00,u1,Page Viewed,,https://s.de/a,s1\n"
        "2026-11-01 10:00:00,u1,Page Viewed,,https://s.de/b,s1\n"
        "2026-11-01 10:00:00,u1,Product Viewed,,https://s.de/a,s1\n"
        "2026-11-01 10:00:00,u1,Product Viewed,,https://s.de/a,s2\n"
        "2026-11-01 10:00:00,u1,Product Viewed,,https://s.de/a,s2\n"
    ))
    mapping = write_mapping(tmp_path / "m.toml", """
[fields]
timestamp = "ts"
user_id = "uid"
event = "ev"
revenue = "amount"
session_id = "session"
[context]
"page.url" = "url"
""")

    first = import_file(ws, file, mapping=mapping)
    again = import_file(ws, file, mapping=mapping)

    # the last row repeats the one before it exactly: that one is a duplicate
    assert (first.inserted, first.duplicates) == (6, 1)
    assert (again.inserted, again.duplicates) == (0, 7)
    stored = events(ws)
    assert sorted(e["revenue"] for e in stored if e["revenue"] is not None) == [10.0, 25.0]
    assert sorted(e["context"]["page"]["url"] for e in stored if e["event"] == "Page Viewed") == [
        "https://s.de/a", "https://s.de/b"]
    assert sorted(e["session_id"] for e in stored if e["event"] == "Product Viewed") == ["s1", "s2"]


def test_a_property_value_that_is_not_of_its_declared_type_stays_text(
    ws: Workspace, tmp_path: Path
) -> None:
    # types = { Preis = "number" } on a German export stored "19,99" as null
    file = write_text(tmp_path / "p.csv", (
        "Datum;Kunde;Preis;Aktiv;Extra\n"
        '23.11.2026 14:05;K-1;19,99;ja;"{""a"": 1}"\n'
        "23.11.2026 14:06;K-1;5.5;true;kein json\n"
    ))
    mapping = write_mapping(tmp_path / "p.toml", """
[fields]
timestamp = { column = "Datum", format = "%d.%m.%Y %H:%M" }
user_id = "Kunde"
event = { value = "Produkt angesehen" }
[properties]
types = { Preis = "number", Aktiv = "boolean", Extra = "json" }
""")

    import_file(ws, file, mapping=mapping)

    first, second = (e["properties"] for e in events(ws))
    assert first == {"Preis": "19,99", "Aktiv": "ja", "Extra": {"a": 1}}
    assert second == {"Preis": 5.5, "Aktiv": True, "Extra": "kein json"}


def test_the_delimiter_is_the_one_that_splits_the_first_lines_alike(ws: Workspace, tmp_path: Path) -> None:
    # no [csv] delimiter: ';' where every line has the same number of ';' fields, ',' in a
    # headerless file whose first line has '; ' in a free-text value
    semi = write_text(tmp_path / "semi.csv", "ts;uid;ev\n2026-11-01 10:00:00;u1;A\n"
                      "2026-11-01 10:01:00;u1;B\n2026-11-01 10:02:00;u1\n")
    comma = write_text(tmp_path / "comma.csv", "2026-11-01 10:00:00,u2,Note; with; many; semicolons\n"
                       "2026-11-01 10:01:00,u2,B\n")
    by_name = write_mapping(tmp_path / "a.toml", '[fields]\ntimestamp = "ts"\nuser_id = "uid"\nevent = "ev"\n')
    by_position = write_mapping(tmp_path / "b.toml", "[csv]\nheader = false\n[fields]\n"
                                'timestamp = "column0"\nuser_id = "column1"\nevent = "column2"\n')

    one = import_file(ws, semi, mapping=by_name)
    two = import_file(ws, comma, mapping=by_position)

    assert (one.inserted, one.rejected, two.inserted, two.rejected) == (2, 1, 2, 0)
    assert journeys_of(ws) == {"u1": ["A", "B"], "u2": ["Note; with; many; semicolons", "B"]}
