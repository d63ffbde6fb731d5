"""What the survey snippet may see: the public, write-key-scoped view of active surveys.

``GET /v1/surveys?writeKey=K[&userId=U][&anonymousId=A][&lang=de]`` returns only what a
page needs to show a survey: ids, version, the trigger (a stage becomes the event names
that enter it), URL rule, cap, sample and the questions in the page's language. With a
person's id it also applies the server-side cap: a survey the person answered
``max_answers`` times, or within ``every_days``, is left out; and a stage-triggered
survey whose stage the person already reached (any of its events in the last
:data:`REACHED_DAYS` days, e.g. ``Order Delivered`` sent by the shop's backend) is marked
``trigger.reached``, so the snippet shows it on this visit. Names of other persons,
answers and scores are never in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cxlens.store.workspace import Workspace
from cxlens.surveys.answers import ANSWERED, SHOWN
from cxlens.surveys.definitions import Question, Survey, Text
from cxlens.surveys.store import list_surveys


def stage_events(root: Path, config: Mapping[str, Any], stage: str) -> list[str]:
    """The event names that enter ``stage``: the journey definition named in
    ``[dashboard] journey`` when there is one, else the dashboard's built-in mapping."""
    name = (config.get("dashboard", {}) or {}).get("journey")
    if name:
        from cxlens.journeys.touchpoints import workspace_definition

        d = workspace_definition(root, str(name))
        return sorted({e for t in d.touchpoints if t.stage == stage for e in t.events})
    from cxlens.web.journeymap import STAGE_EVENTS

    return sorted(e for e, s in STAGE_EVENTS.items() if s == stage)


def _text(t: Text | None, lang: str | None) -> Any:
    if t is None:
        return None
    return t.get(lang) if lang else {"de": t.de, "en": t.en}


def _question(q: Question, lang: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": q.id, "kind": q.kind, "text": _text(q.text, lang), "required": q.required}
    if q.min is not None:
        doc.update(min=q.min, max=q.max, low_label=_text(q.low_label, lang),
                   high_label=_text(q.high_label, lang))
    if q.options:
        doc["options"] = [{"id": o.id, "text": _text(o.text, lang)} for o in q.options]
    return doc


def public_doc(s: Survey, events: list[str], lang: str | None) -> dict[str, Any]:
    tg = s.targeting
    return {"id": s.id, "version": s.version, "touchpoint": s.touchpoint, "stage": s.stage,
            "trigger": {"kind": tg.trigger, "events": events, "seconds": tg.seconds},
            "url": tg.url, "every_days": tg.every_days, "max_answers": tg.max_answers,
            "sample": tg.sample, "questions": [_question(q, lang) for q in s.questions]}


REACHED_DAYS = 30


def reached(ws: Workspace, project: str, user_id: str | None, anonymous_id: str | None,
            events: list[str], now: datetime, days: float = REACHED_DAYS) -> bool:
    """Whether the person has one of ``events`` in the last ``days`` days (only the date
    partitions of that window are read, so the cost does not grow with the history)."""
    if not events or not (user_id or anonymous_id):
        return False
    first = (now - timedelta(days=days)).date().isoformat()
    files = [str(ws.root / f.path) for f in ws.event_files(project) if f.part >= first]
    if not files:
        return False
    rows = ws.con.execute(
        "SELECT count(*) FROM read_parquet(?) WHERE (user_id = ? OR anonymous_id = ?) "
        "AND list_contains(?, event) AND event NOT IN (?, ?) AND timestamp >= ?",
        [files, user_id, anonymous_id, events, ANSWERED, SHOWN, now - timedelta(days=days)]).fetchall()
    return bool(rows[0][0])


def answered(ws: Workspace, project: str, user_id: str | None, anonymous_id: str | None
             ) -> dict[str, tuple[int, datetime]]:
    """survey id -> (answers, last answer) of one person, from the feedback table."""
    folder = ws.root / "tables" / "feedback" / f"project={project}"
    # only the files the survey writer made (imports can be large): part-survey-*.parquet
    files = sorted(str(p) for p in folder.glob("part-survey-*.parquet")) if folder.is_dir() else []
    if not files or not (user_id or anonymous_id):
        return {}
    rows = ws.con.execute(
        "SELECT json_extract_string(properties, '$.survey_id') AS sid, "
        "count(DISTINCT split_part(feedback_id, ':', 2)), max(timestamp) "
        "FROM read_parquet(?, union_by_name = true) "
        "WHERE source LIKE 'survey:%' AND (user_id = ? OR anonymous_id = ?) GROUP BY 1",
        [files, user_id, anonymous_id]).fetchall()
    return {str(s): (int(n), t if t.tzinfo else t.replace(tzinfo=UTC)) for s, n, t in rows if s}


def active_for(ws: Workspace, project: str, *, user_id: str | None = None,
               anonymous_id: str | None = None, lang: str | None = None,
               now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    done = answered(ws, project, user_id, anonymous_id)
    out = []
    for s in list_surveys(ws.catalog, project, active_only=True):
        n, last = done.get(s.id, (0, None))
        if n >= s.targeting.max_answers:
            continue
        if last is not None and (now - last).total_seconds() < s.targeting.every_days * 86400:
            continue
        events = ([s.targeting.event] if s.targeting.trigger == "event" and s.targeting.event
                  else stage_events(ws.root, ws.config, s.targeting.stage)
                  if s.targeting.trigger == "stage" and s.targeting.stage else [])
        doc = public_doc(s, events, lang)
        if s.targeting.trigger == "stage":
            doc["trigger"]["reached"] = reached(ws, project, user_id, anonymous_id, events, now)
        out.append(doc)
    return out
