"""Readers for tabular files (CSV, JSON Lines, Parquet) as DuckDB SQL.

Each source knows how to name its file in a FROM clause, how to get a column as
text (for parsing) and as a value (for the ``properties`` JSON), and what the raw
record looked like (for the rejects file). DuckDB does the reading; nothing here
touches rows in Python.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Final, cast

import duckdb
import orjson

from cxlens.errors import ImportError_, MappingError
from cxlens.ingest.mapping import CsvOptions
from cxlens.ingest.sqlparts import ident, json_path, lit

_INT_RE: Final = r"-?(0|[1-9][0-9]{0,14})"
_DEC_RE: Final = r"-?(0|[1-9][0-9]{0,14})\.[0-9]{1,12}"
_SAMPLE_ROWS: Final = 20_000
#: delimiters tried on the first line when the mapping names none
_DELIMITERS: Final = (",", ";", "\t", "|")
_SNIFF_LINES: Final = 20
#: how much of a file is checked to be UTF-8 before DuckDB reads it
_UTF8_CHECK_BYTES: Final = 1 << 20


def is_numeric(dtype: str) -> bool:
    """A DuckDB column type that casts to DOUBLE without fail."""
    dtype = dtype.upper()
    return dtype in ("DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "TINYINT",
                     "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT") or dtype.startswith("DECIMAL")


def read_error(file: Path, what: str, exc: duckdb.Error) -> ImportError_:
    """A DuckDB read error as one line. A gzip file that ends early (a cut-off download)
    says so, as the gzip readers of the other formats do: DuckDB cannot read past the
    cut, so nothing of it is imported."""
    first = str(exc).splitlines()[0]
    if "gzip" in first.lower():
        return ImportError_(f"{file.name} is cut off or not valid gzip ({first}); nothing was "
                            "imported; copy the whole file again")
    return ImportError_(f"{what}: {first}")


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path: Path, encoding: str = "utf-8") -> io.TextIOWrapper:
    # the caller closes the wrapper, which closes the file under it
    raw: IO[bytes] = (cast(IO[bytes], gzip.GzipFile(path, "rb")) if is_gzip(path)
                      else path.open("rb"))
    return io.TextIOWrapper(raw, encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                            newline="", errors="replace")


@dataclass(slots=True)
class Source:
    """A tabular file as DuckDB sees it."""

    kind: str
    path: Path
    columns: tuple[str, ...]
    #: DuckDB type per column ('VARCHAR' for CSV, since CSV is read as text)
    types: dict[str, str]
    csv: CsvOptions = field(default_factory=CsvOptions)
    #: columns whose sampled values are all numbers: kept as numbers in properties
    numeric: dict[str, str] = field(default_factory=dict)
    rejects_table: str = field(default_factory=lambda: f"__cx_rej_{uuid.uuid4().hex[:10]}")
    #: the user's file when DuckDB reads a UTF-8 copy of it (``path``, under the
    #: workspace's _tmp, which the importer deletes)
    origin: Path | None = None

    @property
    def file(self) -> Path:
        """The file as the user named it (for messages)."""
        return self.origin or self.path

    # -- FROM ------------------------------------------------------------------
    def from_sql(self, *, check: bool) -> str:
        """The FROM item (aliased ``__src``); ``check`` records malformed CSV lines."""
        path = lit(str(self.path))
        if self.kind == "parquet":
            return f"read_parquet({path}) AS __src"
        comp = lit("gzip" if is_gzip(self.path) else "none")
        if self.kind == "jsonl":
            # One text column per line: invalid JSON then is a row we can name, where
            # read_json would fail or skip it silently. NUL never occurs in JSON text.
            reader = (
                f"read_csv({path}, columns = {{'__line': 'VARCHAR'}}, header = false, "
                f"delim = chr(0), quote = '', escape = '', auto_detect = false, "
                f"strict_mode = false, compression = {comp}, max_line_size = 67108864)"
            )
            return (
                "(SELECT row_number() OVER () AS __row, __line, CASE WHEN json_valid(__line)"
                f" THEN CAST(__line AS JSON) END AS __j FROM {reader}) AS __src"
            )
        cols = ", ".join(f"{lit(c)}: 'VARCHAR'" for c in self.columns)
        opts = self.csv
        errors = (
            f"store_rejects = true, rejects_table = {lit(self.rejects_table)}, "
            f"rejects_scan = {lit(self.rejects_table + '_scan')}"
            if check else "ignore_errors = true"
        )
        return (
            f"read_csv({path}, columns = {{{cols}}}, header = {lit(opts.header)}, "
            f"delim = {lit(opts.delimiter)}, quote = {lit(opts.quote)}, escape = {lit(opts.escape)}, "
            f"skip = {int(opts.skip)}, encoding = {lit(opts.encoding)}, auto_detect = false, "
            f"compression = {comp}, null_padding = false, {errors}) AS __src"
        )

    # -- columns -----------------------------------------------------------------
    def has(self, column: str) -> bool:
        if self.kind == "jsonl":
            return column.split(".", 1)[0] in self.columns
        return column in self.types

    def text(self, column: str) -> str:
        """The column as VARCHAR (NULL when empty)."""
        if self.kind == "jsonl":
            return f"nullif(json_extract_string(__j, {json_path(column)}), '')"
        if self.types[column] == "VARCHAR":
            return f"nullif(__src.{ident(column)}, '')"
        return f"CAST(__src.{ident(column)} AS VARCHAR)"

    def native(self, column: str) -> str:
        if self.kind == "jsonl":
            return f"json_extract(__j, {json_path(column)})"
        return f"__src.{ident(column)}"

    def dtype(self, column: str) -> str:
        return "VARCHAR" if self.kind == "jsonl" else self.types[column]

    def value(self, column: str, typ: str = "auto") -> str:
        """The column as a value for the properties JSON object."""
        text = self.text(column)
        if typ == "string":
            return text
        # a value that is not of the named type stays text (a German "19,99" as a number,
        # "ja" as a boolean): it was stored as null, lost without a reject
        if typ == "number":
            if self.kind == "parquet" and is_numeric(self.types[column]):
                return f"CAST({self.native(column)} AS DOUBLE)"  # no round trip through text
            return f"coalesce(to_json(TRY_CAST({text} AS DOUBLE)), to_json({text}))"
        if typ == "boolean":
            return f"coalesce(to_json(TRY_CAST({text} AS BOOLEAN)), to_json({text}))"
        if typ == "json":
            if self.kind == "jsonl":
                return self.native(column)
            return f"coalesce(TRY_CAST({text} AS JSON), to_json({text}))"
        if self.kind != "csv":
            return self.native(column)
        num = self.numeric.get(column)
        if num is None:
            return text
        # a value that does not parse stays text: nothing is lost to a wrong guess
        return f"coalesce(to_json(TRY_CAST({text} AS {num})), to_json({text}))"

    def raw(self) -> str:
        """The record as the user wrote it (as near as we can), for the rejects file.

        Evaluated over the mapped rows, where the source columns keep their names."""
        if self.kind == "jsonl":
            return "__line"
        if self.kind == "parquet":
            pairs = ", ".join(f"{lit(c)}, {ident(c)}" for c in self.columns)
            return f"CAST(json_object({pairs}) AS VARCHAR)"
        d = self.csv.delimiter
        q = self.csv.quote or '"'
        parts = []
        for c in self.columns:
            v = f"coalesce({ident(c)}, '')"
            needs = (f"(contains({v}, {lit(d)}) OR contains({v}, {lit(q)}) "
                     f"OR contains({v}, chr(10)))")
            quoted = f"{lit(q)} || replace({v}, {lit(q)}, {lit(q + q)}) || {lit(q)}"
            parts.append(f"CASE WHEN {needs} THEN {quoted} ELSE {v} END")
        return f"concat_ws({lit(d)}, {', '.join(parts)})"


def open_source(con: duckdb.DuckDBPyConnection, path: Path, kind: str, csv_opts: CsvOptions,
                tmp_dir: Path | None = None) -> Source:
    """``tmp_dir``: where a CSV file in another encoding than UTF-8 is copied as UTF-8
    (the caller deletes ``Source.path`` when ``Source.origin`` is set)."""
    if not path.is_file():
        raise ImportError_(f"{path} not found; pass the path of an existing file")
    if kind == "csv":
        return _csv_source(con, path, csv_opts, tmp_dir)
    if kind == "jsonl":
        return _jsonl_source(path)
    if kind == "parquet":
        try:
            rows = con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})"
            ).fetchall()
        except duckdb.Error as exc:
            raise ImportError_(f"{path} is not a readable Parquet file: {str(exc).splitlines()[0]}") from exc
        types = {str(r[0]): str(r[1]) for r in rows}
        return Source("parquet", path, tuple(types), types)
    raise ImportError_(f"unknown tabular format {kind!r}; use csv, jsonl or parquet")


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def _check_utf8(path: Path) -> None:
    """A file that is not UTF-8 in its first megabyte is one error naming the fix, not
    every row rejected as 'not utf-8 encoded'."""
    raw: IO[bytes] = (cast(IO[bytes], gzip.GzipFile(path, "rb")) if is_gzip(path)
                      else path.open("rb"))
    with raw:
        head = raw.read(_UTF8_CHECK_BYTES)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        line = head[:exc.start].count(b"\n") + 1
        raise ImportError_(
            f"{path.name} is not UTF-8 (byte 0x{head[exc.start]:02X} in line {line}); a CSV saved "
            "by Excel on Windows is cp1252: put encoding = \"cp1252\" in the [csv] section of "
            "the mapping (--mapping)"
        ) from None


def _utf8_copy(path: Path, encoding: str, tmp_dir: Path | None) -> Path:
    """The file re-encoded as UTF-8 (DuckDB reads only UTF-8, UTF-16 and a Latin-1 that
    refuses cp1252's 0x80-0x9F: the euro sign, typographic quotes and dashes)."""
    if tmp_dir is None:
        raise ImportError_(f"{path.name}: an encoding other than UTF-8 ({encoding}) needs a "
                           "workspace to copy the file into")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / f"import-{uuid.uuid4().hex}.csv"
    with _open_text(path, encoding) as src, out.open("w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return out


def _sniff_delimiter(path: Path, opts: CsvOptions) -> CsvOptions:
    """The delimiter that splits the first line into the most fields, among those that
    split most of the first lines into as many (a ';' in one line's free text does not
    make a ';' file; a cut-off or multi-line record does not stop the sniffing)."""
    with _open_text(path, opts.encoding) as fh:
        for _ in range(opts.skip):
            fh.readline()
        lines = [line for line in (fh.readline() for _ in range(_SNIFF_LINES)) if line.strip()]

    def width(delim: str) -> int:
        try:
            rows = list(csv.reader(lines, delimiter=delim, quotechar=opts.quote or None))
        except csv.Error:
            return 0
        if not rows:
            return 0
        first = len(rows[0])
        return first if 2 * sum(len(r) == first for r in rows) > len(rows) else 0

    best = max(_DELIMITERS, key=width)  # the first, ',', on a tie
    return opts if width(best) <= max(width(opts.delimiter), 1) else replace(opts, delimiter=best)


def _csv_source(con: duckdb.DuckDBPyConnection, path: Path, opts: CsvOptions,
                tmp_dir: Path | None = None) -> Source:
    origin: Path | None = None
    if _is_utf8(opts.encoding):
        _check_utf8(path)
    else:
        origin, path = path, _utf8_copy(path, opts.encoding, tmp_dir)
        opts = replace(opts, encoding="utf-8")
    try:
        return _csv_header(con, path, opts, origin)
    except BaseException:
        if origin is not None:
            path.unlink(missing_ok=True)
        raise


def _csv_header(con: duckdb.DuckDBPyConnection, path: Path, opts: CsvOptions,
                origin: Path | None) -> Source:
    if opts.sniff_delimiter:
        opts = _sniff_delimiter(path, opts)
    shown = origin or path
    with _open_text(path, opts.encoding) as fh:
        for _ in range(opts.skip):
            fh.readline()
        reader = csv.reader(fh, delimiter=opts.delimiter, quotechar=opts.quote or None)
        try:
            first = next(reader)
        except StopIteration:
            raise ImportError_(f"{shown} is empty; nothing to import") from None
        except csv.Error as exc:
            raise ImportError_(f"{shown}: cannot read the header line: {exc}") from exc
    names = first if opts.header else [f"column{i}" for i in range(len(first))]
    names = [n.strip() for n in names]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ImportError_(f"{shown}: the header names column {dupes[0]!r} twice; rename one")
    if any(not n for n in names):
        raise ImportError_(f"{shown}: the header has an empty column name; name every column")
    src = Source("csv", path, tuple(names), dict.fromkeys(names, "VARCHAR"), csv=opts, origin=origin)
    src.numeric = _sample_numeric(con, src)
    return src


def _sample_numeric(con: duckdb.DuckDBPyConnection, src: Source) -> dict[str, str]:
    """Which columns hold only numbers in the first rows (no leading zeros: postcodes
    and ids like 01234 stay text)."""
    checks = []
    for i, c in enumerate(src.columns):
        v = f"__src.{ident(c)}"
        checks.append(
            f"count({v}) > 0 AND count({v}) = count(CASE WHEN regexp_full_match({v}, {lit(_INT_RE)})"
            f" THEN 1 END) AS i{i}"
        )
        checks.append(
            f"count({v}) > 0 AND count({v}) = count(CASE WHEN regexp_full_match({v}, {lit(_INT_RE)})"
            f" OR regexp_full_match({v}, {lit(_DEC_RE)}) THEN 1 END) AS d{i}"
        )
    sample = f"(SELECT * FROM {src.from_sql(check=False)} LIMIT {_SAMPLE_ROWS}) AS __src"
    try:
        row = con.execute(f"SELECT {', '.join(checks)} FROM {sample}").fetchone()
    except duckdb.Error as exc:
        raise read_error(src.file, f"{src.file}: cannot read as CSV", exc) from exc
    out: dict[str, str] = {}
    if row is None:
        return out
    for i, c in enumerate(src.columns):
        if row[2 * i]:
            out[c] = "BIGINT"
        elif row[2 * i + 1]:
            out[c] = "DOUBLE"
    return out


def _jsonl_source(path: Path) -> Source:
    keys: dict[str, None] = {}
    with _open_text(path) as fh:
        for n, line in enumerate(fh):
            if n >= 1000:
                break
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                keys.update(dict.fromkeys(obj))
    if not keys:
        raise ImportError_(f"{path}: no JSON object in the first lines; is it JSON Lines?")
    return Source("jsonl", path, tuple(keys), dict.fromkeys(keys, "JSON"))


def _jsonl_keys_anywhere(path: Path, keys: set[str]) -> set[str]:
    """Which of these top-level keys some line of the file has (a substring test first,
    so only lines that could have one are parsed)."""
    found: set[str] = set()
    needles = {k: orjson.dumps(k).decode() for k in keys}
    with _open_text(path) as fh:
        for line in fh:
            hits = [k for k, n in needles.items() if k not in found and n in line]
            if not hits:
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                found.update(k for k in hits if k in obj)
                if found == keys:
                    break
    return found


def check_columns(src: Source, columns: set[str], where: str) -> None:
    missing = sorted(c for c in columns if not src.has(c))
    if missing and src.kind == "jsonl":
        # JSON Lines have no header: a mapped key (a purchase's revenue, say) may first
        # appear after the lines the keys were sampled from; look through the file
        late = _jsonl_keys_anywhere(src.path, {c.split(".", 1)[0] for c in missing})
        src.columns = (*src.columns, *sorted(late))
        src.types.update(dict.fromkeys(late, "JSON"))
        missing = [c for c in missing if not src.has(c)]
    if missing:
        shown = "its columns are: " + ", ".join(src.columns[:30])
        hint = ""
        # a header read from XML or JSON is noise; say what the file is instead
        first = src.columns[0].lstrip("\ufeff \t") if src.columns else ""
        if src.kind == "csv" and first.startswith("<"):
            shown = "it is XML, not CSV: an XES event log is imported with --format xes"
        elif src.kind == "csv" and first.startswith(("{", "[")):
            shown = ("it is JSON, not CSV: use --format jsonl for JSON Lines, --format segment "
                     "for a Segment/RudderStack archive")
        elif src.kind == "parquet" and "." in missing[0] and missing[0].split(".", 1)[0] in src.types:
            parent = missing[0].split(".", 1)[0]
            shown = (f"{parent!r} is a column of type {src.types[parent][:80]}: a Parquet mapping names "
                     "whole columns (nested keys a.b are read from JSON Lines); its columns are: "
                     + ", ".join(src.columns[:30]))
        elif src.kind == "csv" and len(src.columns) == 1 and any(d in src.columns[0] for d in ",;\t|"):
            hint = (f" (one column named {src.columns[0][:60]!r}: set csv.delimiter in the mapping "
                    f"to the file's, now {src.csv.delimiter!r})")
        raise MappingError(
            f"{where}: column {missing[0]!r} is not in {src.file.name}; {shown}{hint}",
            field=missing[0],
        )
