"""Survey answers (``Survey Answered`` events) become ``feedback`` rows.

The snippet and the personal-link page send one track event per answered survey::

    {"event": "Survey Answered", "properties": {"survey_id": "nps-checkout",
     "survey_version": 3, "answers": {"nps": 4, "why": "Lieferung kam zu spät"},
     "lang": "de", "channel": "web", "url": "/danke"}}

The collector's writer calls :func:`record_answers` right after it stored the events;
``cxlens survey sync`` does the same over the stored events (after an import of
archives, or to repair). Rules:

* the survey definition of that version decides touchpoint, stage and question kinds;
  an answer to an unknown survey, or outside a question's scale, is skipped (logged);
* one feedback row per scored question (kind nps/csat/ces, or ``scale``), with the
  free-text answers after it as its ``text``; a free text with no scored question
  before it is a row of kind ``custom``; choice answers go into ``properties.answers``;
* no row for an answer without consent (the collector has removed its ids then);
* ``feedback_id`` = ``survey:<event_id>:<question_id>``: replays and re-syncs store it once;
* the text's sentiment is computed when the row is written (``properties.sentiment``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from cxlens.errors import CxError
from cxlens.model.tables import FEEDBACK_SCHEMA
from cxlens.store.workspace import Workspace
from cxlens.surveys.definitions import Question, Survey
from cxlens.surveys.store import get_survey
from cxlens.voice.feedback_import import feedback_dir, stored_ids, write_atomic
from cxlens.voice.language import detect_language
from cxlens.voice.sentiment import sentiment_batch

log = logging.getLogger("cxlens.surveys")
ANSWERED: Final = "Survey Answered"
SHOWN: Final = "Survey Shown"
CHANNELS: Final = ("web", "email")
MAX_TEXT: Final = 2000
COMPACT_AFTER: Final = 32


@dataclass(frozen=True, slots=True)
class RecordResult:
    answers: int  # answer events seen
    rows: int  # feedback rows written
    skipped: int  # answers not taken (unknown survey, bad values, no consent)
    file: str | None


def _json(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        v = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _score(q: Question, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        v = float(value)
    except ValueError:
        return None
    assert q.min is not None and q.max is not None
    return v if q.min <= v <= q.max and v == int(v) else None


def rows_for_answer(event: Mapping[str, Any], survey: Survey, project: str) -> list[dict[str, Any]]:
    """Feedback rows of one ``Survey Answered`` event (columns as FEEDBACK_SCHEMA)."""
    props = _json(event.get("properties"))
    answers = props.get("answers")
    if not isinstance(answers, dict):
        return []
    lang = props.get("lang") if props.get("lang") in ("de", "en") else None
    channel = props.get("channel") if props.get("channel") in CHANNELS else "web"
    choices: dict[str, Any] = {}
    groups: list[tuple[Question | None, float | None, list[str]]] = []
    for q in survey.questions:
        if q.id not in answers or answers[q.id] in (None, "", []):
            continue
        value = answers[q.id]
        if q.scored:
            score = _score(q, value)
            if score is None:
                raise ValueError(f"answer {q.id}={value!r} is outside {q.min}..{q.max}")
            groups.append((q, score, []))
        elif q.kind == "text":
            text = str(value).strip()[:MAX_TEXT]
            if not groups:
                groups.append((None, None, []))
            groups[-1][2].append(text)
        else:
            ids = {o.id for o in q.options}
            picked = value if isinstance(value, list) else [value]
            picked = [str(p) for p in picked if str(p) in ids]
            if q.kind == "single":
                picked = picked[:1]
            if picked:
                choices[q.id] = picked
    rows = []
    for gq, score, texts in groups:
        body = "\n".join(t for t in texts if t) or None
        kind = "custom" if gq is None or gq.kind == "scale" else gq.kind
        qid = gq.id if gq is not None else "text"
        meta = {"survey_id": survey.id, "survey_version": survey.version, "question_id": qid,
                "stage": survey.stage, "answers": choices or None, "lang": lang,
                "url": props.get("url") if isinstance(props.get("url"), str) else None}
        rows.append({
            "project": project, "feedback_id": f"survey:{event['event_id']}:{qid}",
            "timestamp": event["timestamp"], "anonymous_id": event.get("anonymous_id"),
            "user_id": event.get("user_id"), "kind": kind, "score": score,
            "scale_max": float(gq.max) if gq is not None and gq.max is not None else None,
            "text": body, "language": lang or (detect_language(body) if body else None),
            "touchpoint": survey.touchpoint, "channel": channel, "source": f"survey:{channel}",
            "properties": {k: v for k, v in meta.items() if v is not None},
        })
    return rows


def _version(props: dict[str, Any]) -> int | None:
    v = props.get("survey_version")
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else None


def build_rows(ws: Workspace, project: str, events: Iterable[Mapping[str, Any]]
               ) -> tuple[list[dict[str, Any]], int, int]:
    """(feedback rows, answer events, skipped) for answer events of one project."""
    cache: dict[tuple[str, int | None], Survey | None] = {}
    rows: list[dict[str, Any]] = []
    n = skipped = 0
    for ev in events:
        n += 1
        if not ev.get("user_id") and not ev.get("anonymous_id"):
            skipped += 1  # no consent: the collector removed the ids, so no person to link
            continue
        props = _json(ev.get("properties"))
        sid = props.get("survey_id")
        key = (str(sid), _version(props))
        if key not in cache:
            try:
                cache[key] = get_survey(ws.catalog, project, key[0], key[1])
            except CxError:
                cache[key] = None
        survey = cache[key]
        if survey is None:
            log.warning("answer %s names unknown survey %r (version %s) of %s; skipped",
                        ev.get("event_id"), sid, key[1], project)
            skipped += 1
            continue
        try:
            got = rows_for_answer(ev, survey, project)
        except ValueError as exc:
            log.warning("answer %s to survey %s skipped: %s", ev.get("event_id"), survey.id, exc)
            skipped += 1
            continue
        if not got:
            skipped += 1
        rows.extend(got)
    texts = [(i, r["text"], r["language"]) for i, r in enumerate(rows) if r["text"]]
    if texts:
        for (i, _, _), s in zip(texts, sentiment_batch([t for _, t, _ in texts], [lg for _, _, lg in texts]),
                                strict=True):
            rows[i]["properties"].update(sentiment=s.label, sentiment_score=round(s.score, 4))
    for r in rows:
        r["properties"] = json.dumps(r["properties"], ensure_ascii=False)
    return rows, n, skipped


def write_rows(ws: Workspace, project: str, rows: list[dict[str, Any]]) -> tuple[int, str | None]:
    """Append the rows not stored yet (by feedback_id), atomically, under the writer lock."""
    if not rows:
        return 0, None
    out_dir = feedback_dir(ws.root, project)
    with ws.writing():
        have = stored_ids(ws.con, out_dir)
        fresh: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["feedback_id"] not in have:
                fresh.setdefault(r["feedback_id"], r)
        if not fresh:
            return 0, None
        table = pa.Table.from_pylist(list(fresh.values()), schema=FEEDBACK_SCHEMA)
        path = write_atomic(ws.root, out_dir, table, "part-survey")
        path = _compact(ws, out_dir) or path
    return len(fresh), str(path)


def _compact(ws: Workspace, out_dir: Path, limit: int = COMPACT_AFTER) -> Path | None:
    """The writer adds a small file per batch with answers: past ``limit`` files, the
    survey files are merged into one (written first, then the old ones removed)."""
    small = sorted(out_dir.glob("part-survey-*.parquet"))
    if len(small) <= limit:
        return None
    merged = pa.concat_tables([pq.read_table(p, schema=FEEDBACK_SCHEMA) for p in small])
    dest = write_atomic(ws.root, out_dir, merged, "part-survey-merged")
    for p in small:
        p.unlink(missing_ok=True)
    return dest


def _answer_events(table: pa.Table) -> list[dict[str, Any]]:
    if table.num_rows == 0 or "event" not in table.column_names:
        return []
    import pyarrow.compute as pc

    picked = table.filter(pc.equal(table.column("event"), ANSWERED))
    cols = [c for c in ("event_id", "timestamp", "anonymous_id", "user_id", "properties")
            if c in picked.column_names]
    return list(picked.select(cols).to_pylist())


def record_answers(ws: Workspace, project: str, table: pa.Table) -> RecordResult:
    """Called by the collector's writer with the rows it just appended."""
    events = _answer_events(table)
    if not events:
        return RecordResult(0, 0, 0, None)
    rows, n, skipped = build_rows(ws, project, events)
    written, path = write_rows(ws, project, rows)
    return RecordResult(n, written, skipped, path)


def sync(ws: Workspace, project: str) -> RecordResult:
    """Feedback rows for every stored answer event (idempotent)."""
    names = ("event_id", "timestamp", "anonymous_id", "user_id", "properties")
    rel = ws.events(project).filter(f"event = '{ANSWERED}'").project(", ".join(names))
    events = [dict(zip(names, r, strict=True)) for r in rel.order("timestamp").fetchall()]
    rows, n, skipped = build_rows(ws, project, events)
    written, path = write_rows(ws, project, rows)
    return RecordResult(n, written, skipped, path)


def after_append(ws: Workspace, project: str, table: pa.Table) -> RecordResult | None:
    """The collector's hook: record answers, then alert on them in the background. A
    problem is logged and never blocks the events (``cxlens survey sync`` repairs)."""
    try:
        res = record_answers(ws, project, table)
    except Exception:
        log.exception("survey answers of %s could not be turned into feedback; "
                      "run: cxlens survey sync -p %s", project, project)
        return None
    if res.rows:  # the thread reads cxlens.toml afresh: [alerts] may have changed since start
        from cxlens.voice.notify import alert_in_background

        alert_in_background(ws.root, project, prefix="survey:")
    return res
