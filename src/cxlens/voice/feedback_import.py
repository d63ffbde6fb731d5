"""Import reviews, support tickets, Zendesk exports and other tools' NPS exports into the
``feedback`` table.

Columns are found by common names (``rating``/``stars``/``Bewertung``, ``text``/``comment``/
``Kommentar``, …) or named in a mapping file (TOML ``[fields]``, same idea as the event
importers). A row the importer cannot take (no text and no score, a score outside the
scale, a time it cannot read) goes to a rejects file with the reason; ``strict`` writes
nothing when any row is bad. The good rows are written as one Parquet file under
``<ws>/tables/feedback/project=<p>/``: to ``_tmp`` first, fsynced, then renamed in, under
the workspace's writer lock. ``feedback_id`` comes from the source's own id (prefixed with
the format) or a digest of the row's content, and ids already stored are skipped, so
importing a file twice stores it once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from cxlens.errors import BadRowsError, ImportError_, MappingError
from cxlens.ingest.rejects import Reject, rejects_name, summarize, write_rejects
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.textfile import read_user_text
from cxlens.voice.language import detect_language

FORMATS: Final = ("reviews", "tickets", "zendesk", "nps")

#: our field -> names it goes by in exports (compared lower-case, without spaces/_/-)
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "id": ("id", "feedbackid", "reviewid", "ticketid", "responseid", "uuid", "bewertungsid"),
    "timestamp": ("timestamp", "createdat", "date", "datum", "submittedat", "time", "created",
                  "reviewdate", "respondedat", "erstelltam", "zeit"),
    "score": ("score", "rating", "stars", "sterne", "bewertung", "npsscore", "nps", "csat",
              "likelihoodtorecommend", "note", "punkte"),
    "text": ("text", "comment", "comments", "review", "reviewtext", "body", "description",
             "message", "feedback", "kommentar", "freitext", "reason", "content", "nachricht"),
    "title": ("title", "subject", "headline", "titel", "betreff", "summary"),
    "user_id": ("userid", "customerid", "kundennummer", "customernumber", "requesterid", "externalid"),
    "email": ("email", "emailaddress", "requesteremail", "mail", "emailadresse"),
    "anonymous_id": ("anonymousid", "visitorid", "deviceid", "cookieid"),
    "touchpoint": ("touchpoint", "product", "productname", "sku", "produkt", "page", "stage"),
    "channel": ("channel", "kanal", "via", "source"),
    "type": ("type", "tickettype", "category", "kategorie", "typ"),
}
DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "reviews": {"kind": "review", "scale_max": 5.0, "touchpoint": "review", "channel": "review"},
    "tickets": {"kind": "ticket", "scale_max": 5.0, "touchpoint": "support", "channel": "support"},
    "zendesk": {"kind": "ticket", "scale_max": 1.0, "touchpoint": "support", "channel": "support"},
    "nps": {"kind": "nps", "scale_max": 10.0, "touchpoint": "nps_survey", "channel": "survey"},
}
_TIME_FORMATS: Final = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y")


@dataclass(frozen=True, slots=True)
class FeedbackImport:
    project: str
    format: str
    rows_in: int
    inserted: int
    duplicates: int
    rejected: int
    rejects_file: str | None
    file: str | None
    seconds: float


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def load_mapping(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(read_user_text(path, MappingError))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}; pass a TOML file with a [fields] table") from exc
    unknown = set(data.get("fields", {})) - set(ALIASES)
    if unknown:
        raise MappingError(f"mapping {path} names unknown fields {sorted(unknown)}; use {', '.join(ALIASES)}")
    return data


def _records(path: Path) -> Iterator[tuple[int | None, dict[str, Any]]]:
    """(line, record) of a CSV, JSON array/object or JSON Lines file."""
    raw = path.read_bytes().decode("utf-8-sig")
    head = raw.lstrip()[:1]
    if head in ("[", "{"):
        try:
            doc = json.loads(raw)
        except json.JSONDecodeError:
            for n, line in enumerate(raw.splitlines(), 1):
                if line.strip():
                    try:
                        yield n, json.loads(line)
                    except json.JSONDecodeError:
                        yield n, {"__bad__": line}
            return
        if isinstance(doc, dict):
            # Zendesk {"tickets": [...]}, other tools {"reviews"|"responses"|"data": [...]}
            lists = [v for v in doc.values() if isinstance(v, list)]
            doc = lists[0] if lists else [doc]
        for rec in doc:
            yield None, rec if isinstance(rec, dict) else {"__bad__": json.dumps(rec)}
        return
    sample = raw[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(raw), dialect=dialect)
    for rec in reader:
        if None in rec:  # more cells than header names
            yield reader.line_num, {"__bad__": "too many fields"}
        else:
            yield reader.line_num, dict(rec)


def _flatten(rec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}_"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def parse_time(value: Any) -> dt.datetime:
    if isinstance(value, int | float):
        secs = value / 1000 if value > 1e11 else value
        return dt.datetime.fromtimestamp(secs, dt.UTC)
    s = str(value).strip()
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                t = dt.datetime.strptime(s, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"cannot read time {s!r}") from None
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _zendesk(rec: dict[str, Any]) -> dict[str, Any]:
    """Zendesk's ticket JSON: nested requester, via.channel and satisfaction_rating."""
    out = dict(rec)
    sat = rec.get("satisfaction_rating")
    score = sat.get("score") if isinstance(sat, dict) else None
    out["score"] = {"good": 1.0, "bad": 0.0}.get(str(score)) if score is not None else None
    via = rec.get("via")
    out["channel"] = via.get("channel") if isinstance(via, dict) else via
    req = rec.get("requester")
    if isinstance(req, dict):
        out["requester_email"] = req.get("email")
        out["requester_id"] = req.get("id")
    out["touchpoint"] = rec.get("group_name") or rec.get("brand") or "support"
    if isinstance(sat, dict) and sat.get("comment"):
        out["satisfaction_comment"] = sat["comment"]
    for k in ("satisfaction_rating", "via", "requester"):
        out.pop(k, None)
    return out


class _Rowbuilder:
    def __init__(self, fmt: str, mapping: dict[str, Any], project: str, source: str) -> None:
        self.fmt, self.project, self.source = fmt, project, source
        self.fields: dict[str, str] = dict(mapping.get("fields", {}))
        self.defaults = {**DEFAULTS[fmt], **mapping.get("defaults", {})}
        self.scale_max = float(self.defaults["scale_max"])

    def column(self, rec: dict[str, Any], field: str) -> Any:
        if field in self.fields:
            return rec.get(self.fields[field])
        keys = {_key(k): k for k in rec}
        for alias in ALIASES[field]:
            k = keys.get(alias)
            if k is not None and rec[k] not in (None, ""):
                return rec[k]
        return None

    def build(self, rec: dict[str, Any]) -> dict[str, Any]:
        """One feedback row, or raises ValueError naming the column and the reason."""
        if self.fmt == "zendesk":
            rec = _zendesk(rec)
        rec = _flatten(rec)
        text = self.column(rec, "text")
        title = self.column(rec, "title")
        text = " ".join(str(x).strip() for x in (title, text) if x not in (None, "")) or None
        raw_score = self.column(rec, "score")
        score: float | None = None
        if raw_score not in (None, ""):
            try:
                score = float(str(raw_score).replace(",", "."))
            except ValueError:
                raise ValueError(f"score|score {raw_score!r} is not a number") from None
            low = 0.0 if self.fmt in ("nps", "zendesk") else 1.0
            if not low <= score <= self.scale_max:
                raise ValueError(f"score|score {score:g} is outside {low:g}..{self.scale_max:g}")
        if text is None and score is None:
            raise ValueError("text|neither a text nor a score")
        raw_time = self.column(rec, "timestamp")
        if raw_time in (None, ""):
            raise ValueError("timestamp|no time")
        try:
            ts = parse_time(raw_time)
        except (ValueError, OverflowError, OSError) as exc:
            raise ValueError(f"timestamp|{exc}") from None
        email = self.column(rec, "email")
        user_id = self.column(rec, "user_id")
        # an e-mail is the id the shop knows the person by when no customer id is given
        user = str(user_id) if user_id not in (None, "") else (str(email).strip().lower() if email else None)
        anon = self.column(rec, "anonymous_id")
        kind = str(self.defaults["kind"])
        typ = str(self.column(rec, "type") or "").lower()
        if self.fmt in ("tickets", "zendesk") and ("complaint" in typ or "beschwerde" in typ or "reklamation" in typ):
            kind = "complaint"
        src_id = self.column(rec, "id")
        if src_id not in (None, ""):
            fid = f"{self.fmt}:{src_id}"
        else:
            digest = hashlib.blake2b(
                json.dumps([self.project, kind, ts.isoformat(), text, score, user, anon]).encode(), digest_size=12)
            fid = f"{self.fmt}:{digest.hexdigest()}"
        used = {self.fields.get(f, f) for f in ALIASES}
        props = {k: v for k, v in rec.items() if v not in (None, "") and k not in used}
        return {
            "project": self.project, "feedback_id": fid, "timestamp": ts,
            "anonymous_id": str(anon) if anon not in (None, "") else None, "user_id": user,
            "kind": kind, "score": score, "scale_max": self.scale_max if score is not None else None,
            "text": text, "language": detect_language(text) if text else None,
            "touchpoint": str(self.column(rec, "touchpoint") or self.defaults["touchpoint"]),
            "channel": str(self.column(rec, "channel") or self.defaults["channel"]),
            "source": self.source,
            "properties": json.dumps(props, ensure_ascii=False, default=str) if props else None,
        }


def feedback_dir(root: Path, project: str) -> Path:
    return root / "tables" / "feedback" / f"project={project}"


def stored_ids(con: Any, directory: Path) -> set[str]:
    files = sorted(str(p) for p in directory.glob("*.parquet"))
    if not files:
        return set()
    rows = con.execute("SELECT DISTINCT feedback_id FROM read_parquet(?, union_by_name = true)", [files]).fetchall()
    return {r[0] for r in rows}


def import_feedback(ws: Any, file: Path, fmt: str, *, mapping: Path | None = None,
                    project: str | None = None, strict: bool = False, source: str | None = None) -> FeedbackImport:
    started = time.perf_counter()
    if fmt not in FORMATS:
        raise ImportError_(f"unknown feedback format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not file.is_file():
        raise ImportError_(f"{file} does not exist; pass the path of a CSV or JSON export")
    project = project or ws.default_project
    ws.ensure_project(project)
    builder = _Rowbuilder(fmt, load_mapping(mapping), project, source or f"import:{fmt}")
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    try:
        records = list(_records(file))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportError_(f"cannot read {file}: {exc}; export it as UTF-8 CSV or JSON") from exc
    for n, (line, rec) in enumerate(records, 1):
        if "__bad__" in rec:
            rejects.append(Reject(n, line, "", "malformed record", str(rec["__bad__"])))
            continue
        try:
            rows.append(builder.build(rec))
        except ValueError as exc:
            col, _, reason = str(exc).partition("|")
            rejects.append(Reject(n, line, col, reason, json.dumps(rec, ensure_ascii=False, default=str)))
    if strict and rejects:
        raise BadRowsError(f"{len(rejects)} bad rows in {file.name}, nothing imported: {summarize(rejects)}",
                           rejects=[r.to_dict() for r in rejects])
    rejects_file = None
    if rejects:
        path, _ = write_rejects(rejects, ws.root / "rejects" / rejects_name(file))
        rejects_file = str(path)
    out_dir = feedback_dir(ws.root, project)
    written = None
    with ws.writing():
        have = stored_ids(ws.con, out_dir)
        fresh: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["feedback_id"] not in have:
                fresh.setdefault(r["feedback_id"], r)
        if fresh:
            written = str(write_atomic(ws.root, out_dir, pa.Table.from_pylist(list(fresh.values()), schema=FEEDBACK_SCHEMA),
                                       f"part-import-{fmt}"))
    return FeedbackImport(project, fmt, len(records), len(fresh), len(rows) - len(fresh), len(rejects),
                          rejects_file, written, time.perf_counter() - started)


def write_atomic(root: Path, out_dir: Path, table: pa.Table, stem: str) -> Path:
    """Write to ``_tmp``, fsync, rename into ``out_dir``: a reader sees all or nothing."""
    tmp_dir = root / "_tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"{stem}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = tmp_dir / name
    pq.write_table(table, tmp, compression="zstd")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    dest = out_dir / name
    tmp.replace(dest)
    fd = os.open(out_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return dest
