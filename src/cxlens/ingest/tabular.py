"""Mapped tabular imports: one DuckDB SELECT turns a file into event rows.

The SELECT is built from the mapping with quoted identifiers and literals (see
``sqlparts``). It runs twice: a check pass, streaming, that finds bad rows and why
(a few columns only, so it is cheap), and the write pass that the store's append
consumes, which skips exactly those rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import duckdb

from cxlens.errors import ImportError_
from cxlens.ingest.channels import CHANNEL_INPUT_COLUMNS, CHANNEL_INPUT_PATHS
from cxlens.ingest.mapping import FieldSpec, Mapping
from cxlens.ingest.orders import refund_event_sql
from cxlens.ingest.rejects import Reject
from cxlens.ingest.segment import CAMPAIGN_PARAMS
from cxlens.ingest.sources import Source, check_columns, is_numeric, read_error
from cxlens.ingest.sqlparts import in_list, json_lit, json_without, lit
from cxlens.model.events import EVENT_TYPES

#: text that ends in a UTC offset or zone name after a time of day
_OFFSET_RE: Final = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?|UTC|GMT)$"
#: day.month.year times read without a format: (whole-text pattern, strptime format)
_GERMAN_DATES: Final = (
    (r"\d{1,2}\.\d{1,2}\.\d{4}", "%d.%m.%Y"),
    (r"\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}", "%d.%m.%Y %H:%M"),
    (r"\d{1,2}\.\d{1,2}\.\d{4} \d{1,2}:\d{2}:\d{2}", "%d.%m.%Y %H:%M:%S"),
)
_TEXT_FIELDS: Final = ("anonymous_id", "user_id", "account_id", "session_id", "event_id")


@dataclass(frozen=True, slots=True)
class Check:
    """One way a row can be bad: a SQL condition, the column to blame, a reason."""

    condition: str
    column: str
    reason: str  # SQL expression giving the reason text


@dataclass(frozen=True, slots=True)
class MappedQuery:
    items: str
    checks: tuple[Check, ...]
    outputs: tuple[str, ...]
    source: Source

    def inner(self, *, check: bool) -> str:
        return f"SELECT __src.*, {self.items} FROM {self.source.from_sql(check=check)}"

    def bad_sql(self) -> str:
        if not self.checks:
            return "false"
        return " OR ".join(f"coalesce({c.condition}, false)" for c in self.checks)

    def write_sql(self) -> str:
        cols = ", ".join(f'"__cx_{c}" AS "{c}"' for c in self.outputs)
        return f"SELECT {cols} FROM ({self.inner(check=False)}) WHERE NOT ({self.bad_sql()})"

    def check_sql(self) -> str:
        row = "__row" if self.source.kind == "jsonl" else "row_number() OVER ()"
        col = "CASE " + " ".join(f"WHEN {c.condition} THEN {lit(c.column)}" for c in self.checks) + " END"
        why = "CASE " + " ".join(f"WHEN {c.condition} THEN {c.reason}" for c in self.checks) + " END"
        # the raw record is rebuilt only for the bad rows, after the filter
        return (
            f"SELECT __r, __col, __why, {self.source.raw()} AS __raw FROM (SELECT {row} AS __r, "
            f"{col} AS __col, {why} AS __why, * FROM ({self.inner(check=True)}) AS __in) "
            "WHERE __col IS NOT NULL ORDER BY __r"
        )


class _Builder:
    def __init__(self, mapping: Mapping, src: Source) -> None:
        self.m = mapping
        self.src = src

    # -- single fields -----------------------------------------------------------
    def base(self, spec: FieldSpec) -> str:
        if spec.value is not None:
            return lit(str(spec.value))
        assert spec.column is not None
        text = self.src.text(spec.column)
        if spec.default is not None:
            text = f"coalesce({text}, {lit(spec.default)})"
        return text

    def rewritten(self, spec: FieldSpec) -> str:
        text = self.base(spec)
        if not spec.map or spec.value is not None:
            return text
        whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in spec.map.items())
        other = text if spec.unmapped == "keep" else "NULL"
        return f"(CASE {text} {whens} ELSE {other} END)"

    def field(self, name: str) -> str | None:
        spec = self.m.spec(name)
        return None if spec is None else self.rewritten(spec)

    def timestamp(self) -> tuple[str, str]:
        """(raw text, TIMESTAMPTZ expression)."""
        spec = self.m.fields["timestamp"]
        assert spec.column is not None
        col = spec.column
        tz = lit(spec.timezone or "UTC")
        raw = self.src.text(col)
        dtype = self.src.dtype(col).upper()
        fmt = spec.format
        # a typed column is checked for NULL as it is: formatting every time as text only
        # to test it for NULL cost more than the rest of the timestamp handling
        if dtype == "TIMESTAMP WITH TIME ZONE":
            return self.src.native(col), f"CAST({self.src.native(col)} AS TIMESTAMPTZ)"
        if dtype.startswith("TIMESTAMP") or dtype == "DATE":
            return self.src.native(col), f"timezone({tz}, CAST({self.src.native(col)} AS TIMESTAMP))"
        if fmt in ("epoch", "epoch_s", "epoch_ms", "epoch_us"):
            scale = {"epoch": 1, "epoch_s": 1, "epoch_ms": 1e3, "epoch_us": 1e6}[fmt]
            return raw, f"to_timestamp(TRY_CAST({raw} AS DOUBLE) / {scale})"
        if fmt:
            parsed = f"try_strptime({raw}, {lit(fmt)})"
            if "%z" in fmt or "%Z" in fmt:
                return raw, f"CAST({parsed} AS TIMESTAMPTZ)"
            return raw, f"timezone({tz}, {parsed})"
        # Without a format: ISO-like text; an explicit offset wins, naive times are in tz.
        # (Casting text with an offset to TIMESTAMP would silently drop the offset.) The
        # German day.month.year (23.11.2026 14:05, what Excel writes there) is read too:
        # with dots it is never month-first. coalesce evaluates it only where ISO failed.
        german = " ".join(
            f"WHEN regexp_full_match({raw}, {lit(pattern)}) THEN try_strptime({raw}, {lit(fmt)})"
            for pattern, fmt in _GERMAN_DATES
        )
        return raw, (
            f"(CASE WHEN regexp_matches({raw}, {lit(_OFFSET_RE)}) THEN TRY_CAST({raw} AS TIMESTAMPTZ)"
            f" ELSE timezone({tz}, coalesce(TRY_CAST({raw} AS TIMESTAMP), CASE {german} END)) END)"
        )

    def revenue(self, event: str | None) -> tuple[str | None, str | None]:
        """(raw text, DOUBLE expression) or (None, None) when not mapped."""
        spec = self.m.spec("revenue")
        if spec is None:
            return None, None
        if spec.value is not None:
            raw, val = lit(str(spec.value)), f"CAST({lit(spec.value)} AS DOUBLE)"
        else:
            assert spec.column is not None
            raw = self.src.text(spec.column)
            if is_numeric(self.src.dtype(spec.column)):
                # a number column cannot hold a bad number: no text, no check
                val = f"CAST({self.src.native(spec.column)} AS DOUBLE)"
                return None, self.when(spec, event, val)
            else:
                text = raw
                if spec.decimal == ",":
                    text = f"replace(replace({raw}, '.', ''), ',', '.')"
                val = f"TRY_CAST(trim({text}) AS DOUBLE)"
        return self.when(spec, event, raw), self.when(spec, event, val)

    def when(self, spec: FieldSpec, event: str | None, expr: str) -> str:
        if not spec.when_event or event is None:
            return expr
        return f"(CASE WHEN {in_list(event, spec.when_event)} THEN {expr} END)"

    # -- JSON columns ------------------------------------------------------------
    def properties(self) -> str:
        p = self.m.properties
        used = self.m.used_columns()
        items: list[str] = []
        remaining_json: str | None = None
        if p.columns is not None:
            cols = list(p.columns)
        elif self.src.kind == "jsonl":
            # the line's object as it is, but the keys that rename or types name (they
            # were ignored here) are rewritten below
            skip = used | set(p.exclude)
            cols = sorted(c for c in {*p.rename, *p.types} if c not in skip)
            renamed = {c for c in cols if p.rename.get(c, c) != c}
            # keys used as fields move out of the properties, nested ones too (CSV and
            # Parquet columns used as fields are not properties either)
            remaining_json = json_without("__j", skip | renamed)
        else:
            cols = [c for c in self.src.columns if c not in used and c not in p.exclude]
        plain: dict[str, object] = {}
        for c in cols:
            key = p.rename.get(c, c)
            value = self.src.value(c, p.types.get(c, "auto"))
            items.append(f"{lit(key)}, {value}")
            if self._plain_value(c, p.types.get(c, "auto")):
                plain[key] = value
        if not remaining_json and not p.values and plain and len(plain) == len(items):
            # only text and numbers, each key once: the same text as json_object, cheaper
            # (the derived event id digests this text, so it must stay byte-identical)
            return _json_text(plain)
        for key, value in p.values.items():
            items.append(f"{lit(key)}, {json_lit(value)}")
        obj = f"json_object({', '.join(items)})" if items else None
        if remaining_json and obj:
            return f"CAST(json_merge_patch({remaining_json}, {obj}) AS VARCHAR)"
        if remaining_json:
            return f"CAST({remaining_json} AS VARCHAR)"
        return f"CAST({obj} AS VARCHAR)" if obj else "CAST(NULL AS VARCHAR)"

    def _plain_value(self, column: str, typ: str) -> bool:
        """Whether the column's properties value is VARCHAR or DOUBLE, which ``to_json``
        writes exactly as ``json_object`` does (JSON-typed values it may not)."""
        if typ in ("string", "number"):
            return True
        return typ == "auto" and self.src.kind == "parquet" and self.src.types[column] in (
            "VARCHAR", "DOUBLE")

    def _context_tree(self) -> dict[str, object]:
        tree: dict[str, object] = {}
        for path, spec in self.m.context.items():
            node = tree
            parts = path.split(".")
            for part in parts[:-1]:
                nxt = node.setdefault(part, {})
                if not isinstance(nxt, dict):
                    raise ImportError_(f"context path {path!r} collides with another context key")
                node = nxt
            node[parts[-1]] = self.rewritten(spec)
        return tree

    def _page_url(self) -> str | None:
        """The mapped page URL, or None when the URL cannot give campaign fields (no
        page.url, or the mapping fills ``campaign`` whole)."""
        spec = self.m.context.get("page.url")
        if spec is None or "campaign" in self.m.context:
            return None
        return self.rewritten(spec)

    def _mapped_campaign(self, key: str) -> str | None:
        spec = self.m.context.get(f"campaign.{key}")
        return None if spec is None else self.rewritten(spec)

    def _from_url(self, key: str) -> str | None:
        """SQL true where ``campaign.<key>`` must come from the URL: the URL carries the
        parameter and the mapped column (if any) is NULL."""
        url = self._page_url()
        if url is None:
            return None
        param = next(p for p, k in CAMPAIGN_PARAMS.items() if k == key)
        has = f"contains({url}, {lit(param + '=')})"
        mapped = self._mapped_campaign(key)
        return has if mapped is None else f"({mapped} IS NULL AND {has})"

    def campaign(self, key: str) -> str | None:
        """``campaign.<key>`` for the context and the classification: the mapped column,
        or where it is not mapped or NULL the URL's ``utm_`` parameter, as GA4 reads them
        from page_location and the collector from context.page.url (so an export with
        only a URL column gets its channel). The regex runs only where the URL names the
        parameter and no column gave it; other rows pay a substring search. Like GA4,
        parameter names are matched in lower case only."""
        mapped = self._mapped_campaign(key)
        needed = self._from_url(key)
        if needed is None:
            return mapped
        url = self._page_url()
        param = next(p for p, k in CAMPAIGN_PARAMS.items() if k == key)
        # the query is what precedes '#'; '+' is a space in a query (as parse_qsl reads it);
        # a bad percent-escape (not UTF-8) keeps the raw text instead of failing the import
        raw = f"replace(regexp_extract({url}, {lit('^[^#]*[?&]' + param + '=([^&#]*)')}, 1), '+', ' ')"
        derived = f"CASE WHEN {needed} THEN nullif(coalesce(try(url_decode({raw})), {raw}), '') END"
        return derived if mapped is None else f"coalesce({mapped}, {derived})"

    def context(self) -> str:
        if not self.m.context:
            return "CAST(NULL AS VARCHAR)"
        text = _json_text(self._context_tree())
        url = self._page_url()
        if url is None:
            return text
        keys = list(CAMPAIGN_PARAMS.values())
        needed = " OR ".join(f"coalesce({self._from_url(k)}, false)" for k in keys)
        fields = [f"{lit(k)}, {self.campaign(k)}" for k in keys]
        # a merge patch drops the keys whose value is NULL, so context.campaign holds the
        # parameters the URL has, as the collector stores them. Only rows whose URL gives
        # a field no column gave are re-serialised: the rest keep the mapped text byte
        # for byte, and an export whose utm columns match its URLs pays substring searches
        patch = f"json_object('campaign', json_object({', '.join(fields)}))"
        return (f"CASE WHEN contains({url}, 'utm_') AND ({needed})"
                f" THEN CAST(json_merge_patch({text}, {patch}) AS VARCHAR) ELSE {text} END")

    def channel_inputs(self) -> dict[str, str] | None:
        """The channel classification's inputs as typed expressions (the same values the
        context holds), so the store need not parse the context JSON again; None when
        the mapping puts something else than plain text at those places."""
        known = dict(zip(CHANNEL_INPUT_PATHS[:5], CHANNEL_INPUT_COLUMNS[:5], strict=True))
        if any(k.split(".")[0] in ("page", "campaign") and k not in known for k in self.m.context):
            return None
        out = {col: "CAST(NULL AS VARCHAR)" for col in CHANNEL_INPUT_COLUMNS}
        for path, col in known.items():
            if path.startswith("campaign."):
                value = self.campaign(path.removeprefix("campaign."))
                if value is not None:
                    out[col] = value
            elif path in self.m.context:
                out[col] = self.rewritten(self.m.context[path])
        tree = self._context_tree()
        clicks = tree.get("click_ids")
        if isinstance(clicks, dict):
            out[CHANNEL_INPUT_COLUMNS[5]] = _json_text(clicks)
        elif clicks is not None:
            out[CHANNEL_INPUT_COLUMNS[5]] = str(clicks)
        return out

    def event_id(self) -> str | None:
        spec = self.m.spec("event_id")
        if spec is None:
            return None
        if spec.from_columns:
            parts = ", ".join(f"coalesce({self.src.text(c)}, '')" for c in spec.from_columns)
            return f"md5(concat_ws(chr(31), {lit(spec.prefix)}, {parts}))"
        return self.rewritten(spec)

    # -- the query ---------------------------------------------------------------
    def build(self) -> MappedQuery:
        check_columns(self.src, self.m.all_columns(), "mapping")
        ts_raw, ts = self.timestamp()
        event = self.field("event")
        typ = self.field("type")
        typ_expr = f"lower(trim({typ}))" if typ else "'track'"
        if self.m.extra.get("refunds") and event is not None:
            rev_raw, revenue = self.revenue(None)
            event = refund_event_sql(event, revenue or "NULL")
        else:
            rev_raw, revenue = self.revenue(event)
        cur = self.m.spec("currency")
        currency = None if cur is None else self.when(cur, event, self.rewritten(cur))
        select: dict[str, str | None] = {
            "timestamp": ts,
            "event": event,
            "type": typ_expr,
            **{f: self.field(f) for f in _TEXT_FIELDS if f != "event_id"},
            "event_id": self.event_id(),
            "channel": self.field("channel"),
            "revenue": revenue,
            "currency": currency,
            "properties": self.properties(),
            "context": self.context(),
        }
        inputs = self.channel_inputs() if self.m.context else None
        if inputs is not None:
            select.update(inputs)
        outputs = tuple(k for k, v in select.items() if v is not None)
        items = [f"{v} AS \"__cx_{k}\"" for k, v in select.items() if v is not None]
        items.append(f"{ts_raw} AS __cx_ts_raw")
        if rev_raw is not None:
            items.append(f"{rev_raw} AS __cx_rev_raw")
        checks = self.checks(rev_raw is not None, typ is not None)
        return MappedQuery(", ".join(items), tuple(checks), outputs, self.src)

    def checks(self, has_revenue: bool, has_type: bool) -> list[Check]:
        ts_col = self.m.fields["timestamp"].column or "timestamp"
        out: list[Check] = []
        if self.src.kind == "jsonl":
            out.append(Check("__j IS NULL AND __line IS NOT NULL", "line",
                             lit("invalid JSON: the line is not a JSON document")))
            out.append(Check("__j IS NOT NULL AND json_type(__j) <> 'OBJECT'", "line",
                             lit("the line is JSON but not an object {...}")))
        out.append(Check("__cx_ts_raw IS NULL", ts_col, lit("missing timestamp")))
        hint = self.m.fields["timestamp"].format
        how = f" with format {hint}" if hint else "; set fields.timestamp.format in the mapping"
        out.append(Check("__cx_timestamp IS NULL", ts_col,
                         f"'cannot parse ' || CAST(__cx_ts_raw AS VARCHAR) || ' as a time' || {lit(how)}"))
        if self.m.requires_person:
            mapped = [f for f in ("user_id", "anonymous_id") if self.m.spec(f) is not None]
            cond = " AND ".join(f'"__cx_{f}" IS NULL' for f in mapped)
            blame = next((self.m.fields[f].column for f in mapped if self.m.fields[f].column), mapped[0])
            out.append(Check(cond, str(blame), lit("missing person id (" + " / ".join(mapped) + ")")))
        spec = self.m.spec("event")
        if spec and spec.column and spec.map and spec.unmapped == "reject":
            text = self.base(spec)
            out.append(Check(f"{text} IS NOT NULL AND NOT {in_list(text, list(spec.map))}",
                             spec.column, f"'unknown event value ' || {text}"))
        if has_type:
            t_spec = self.m.fields["type"]
            out.append(Check(f"NOT {in_list('__cx_type', sorted(EVENT_TYPES))} OR __cx_type IS NULL",
                             t_spec.column or "type",
                             f"'unknown type ' || coalesce(__cx_type, '(empty)') || "
                             f"{lit('; use one of ' + ', '.join(sorted(EVENT_TYPES)))}"))
        if has_revenue:
            r = self.m.fields["revenue"]
            reason = "'revenue ' || __cx_rev_raw || ' is not a number'"
            if r.decimal == ".":
                hint = ('; for a decimal comma (1.234,50) set decimal = "," on fields.revenue '
                        '(orders: amount = { column = "...", decimal = "," })')
                reason += f" || CASE WHEN contains(__cx_rev_raw, ',') THEN {lit(hint)} ELSE '' END"
            out.append(Check("__cx_rev_raw IS NOT NULL AND __cx_revenue IS NULL", r.column or "revenue",
                             reason))
        return out


def _json_text(tree: dict[str, object]) -> str:
    """A nested object of SQL expressions as JSON text.

    Built as one ``concat`` of literal JSON punctuation and ``to_json`` per leaf: the same
    bytes as ``to_json`` of a nested struct (and as nested ``json_object`` calls) at
    about half the cost of the struct and a third of json_object, which serialise a
    document tree per row. It also takes keys that differ only in case, which a DuckDB
    struct cannot hold."""
    parts: list[str] = []
    text: list[str] = []  # literal JSON text not yet emitted

    def render(node: dict[str, object]) -> None:
        text.append("{")
        for i, (key, val) in enumerate(node.items()):
            text.append(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
            if isinstance(val, dict):
                render(val)
            else:
                parts.append(lit("".join(text)))
                text.clear()
                parts.append(f"coalesce(CAST(to_json({val}) AS VARCHAR), 'null')")
        text.append("}")

    render(tree)
    parts.append(lit("".join(text)))
    return f"concat({', '.join(parts)})"


def build_query(mapping: Mapping, src: Source) -> MappedQuery:
    return _Builder(mapping, src).build()


#: the channel inputs whose preparation costs: host and click-id regexes per value
_REGEX_INPUTS: Final = ("page.url", "page.referrer")
_DICTIONARY_ENCODINGS: Final = ("PLAIN_DICTIONARY", "RLE_DICTIONARY")


def dictionary_encoded_inputs(con: duckdb.DuckDBPyConnection, mapping: Mapping, src: Source) -> bool:
    """Whether the append may prepare the channel inputs once per distinct value
    (``Workspace.append(dictionary_encoded=True)``): the source is a Parquet file whose
    page URL and referrer columns, mapped as they are, have every data page of every row
    group dictionary-encoded (a writer that fell back to plain pages, or a rewrite in the
    mapping, hands DuckDB one string per row, on which the per-value way is 5x slower)."""
    if src.kind != "parquet":
        return False
    columns = set()
    for path in (*_REGEX_INPUTS, *(k for k in mapping.context if k.startswith("click_ids"))):
        spec = mapping.context.get(path)
        if spec is None:
            continue
        if spec.column is None:
            continue  # a constant: one value
        if spec.map or spec.default is not None:
            return False  # rewritten per row
        columns.add(spec.column)
    if not columns:
        return True
    try:
        chunks = con.execute(
            "SELECT path_in_schema, encoding_stats FROM parquet_metadata(?)", [str(src.path)]
        ).fetchall()
    except duckdb.Error:
        return False
    seen = set()
    for name, stats in chunks:
        if name not in columns:
            continue
        seen.add(name)
        pages = [st for st in stats or [] if str(st["page_type"]).startswith("DATA_PAGE")]
        if not pages or any(st["encoding"] not in _DICTIONARY_ENCODINGS for st in pages):
            return False
    return seen == columns


def find_rejects(con: duckdb.DuckDBPyConnection, q: MappedQuery) -> Iterator[Reject]:
    """Run the check pass: bad values and, for CSV, malformed lines (with file lines).

    Yields rejects in file order, streamed: a file whose every row is bad (a wrong
    timestamp format) must not need all of them in memory at once."""
    src = q.source
    header = (1 if src.csv.header else 0) + src.csv.skip
    try:
        malformed: list[tuple[int, str, str, str]] = []
        if src.kind == "csv":
            # malformed lines are recorded while the check pass reads, so run it first into
            # a temp table of the bad rows only (small unless the mapping is wrong)
            con.execute(f"CREATE TEMP TABLE {src.rejects_table}_bad AS {q.check_sql()}").fetchall()
            # DuckDB records a short line once per missing column: keep its first error
            malformed = [
                (int(r[0]), str(r[1] or ""), str(r[2]), str(r[3] or ""))
                for r in con.execute(
                    f"SELECT line, arg_min(column_name, column_idx), arg_min(error_message, column_idx),"
                    f" any_value(csv_line) FROM {src.rejects_table} GROUP BY line ORDER BY line"
                ).fetchall()
            ]
            cur = con.execute(f"SELECT * FROM {src.rejects_table}_bad ORDER BY __r")
        elif src.kind == "parquet" and not _any_bad(con, q):
            return
        else:
            cur = con.execute(q.check_sql())
        bad_lines = [m[0] for m in malformed]
        shift = 0  # malformed lines before the current record
        while rows := cur.fetchmany(10_000):
            for r, col, why, raw in rows:
                if src.kind == "csv":
                    # record r counts the rows DuckDB accepted; malformed lines before it
                    # push it further down the file
                    while shift < len(bad_lines) and bad_lines[shift] <= int(r) + header + shift:
                        yield _malformed(malformed[shift], header)
                        shift += 1
                    line = int(r) + header + shift
                    yield Reject(line - header, line, str(col), str(why), str(raw or ""))
                else:
                    yield Reject(int(r), int(r) if src.kind == "jsonl" else None, str(col),
                                 str(why), str(raw or ""))
        for m in malformed[shift:]:
            yield _malformed(m, header)
    except duckdb.Error as exc:
        raise read_error(src.file, f"cannot read {src.file.name}", exc) from exc
    finally:
        if src.kind == "csv":
            for suffix in ("", "_scan", "_bad"):
                con.execute(f"DROP TABLE IF EXISTS {src.rejects_table}{suffix}").fetchall()


def _any_bad(con: duckdb.DuckDBPyConnection, q: MappedQuery) -> bool:
    """Whether any row fails a check. A Parquet file cannot hold malformed lines, and
    nearly always holds no bad row at all: asking that first is a parallel scan of the
    few checked columns that stops at the first bad row, where the full check pass
    numbers every row in one window (single-threaded; 1.4 s of a 10M-row import)."""
    if not q.checks:
        return False
    sql = f"SELECT 1 FROM ({q.inner(check=True)}) WHERE {q.bad_sql()} LIMIT 1"
    return bool(con.execute(sql).fetchall())


def _malformed(m: tuple[int, str, str, str], header: int) -> Reject:
    line, col, msg, raw = m
    reason = f"malformed CSV line: {msg.strip()}"
    if "not utf-8 encoded" in msg:  # past the first megabyte, which open_source checks
        reason += ' Set encoding = "cp1252" (Excel on Windows) or the file\'s own in [csv].'
    return Reject(line - header, line, col or "(line)", reason, raw.strip("\r\n"))
