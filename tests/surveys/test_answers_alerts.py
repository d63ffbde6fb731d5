"""Answer events -> feedback rows and alerts by e-mail, on a real workspace and a real
local SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from cxlens.store.workspace import Workspace
from cxlens.surveys.answers import record_answers, sync
from cxlens.surveys.definitions import survey_from_dict
from cxlens.surveys.store import save_survey
from cxlens.voice.notify import alert_pending
from cxlens.voice.workspace import feedback_rows
from support import Inbox, journeys

SURVEY = {"id": "csat-delivery", "name": "Lieferung", "touchpoint": "delivery", "stage": "delivery",
          "questions": [{"id": "csat", "kind": "csat", "text": {"de": "Zufrieden?", "en": "Satisfied?"}},
                        {"id": "why", "kind": "text", "text": {"de": "Warum?", "en": "Why?"}},
                        {"id": "more", "kind": "text", "text": {"de": "Sonst?", "en": "Else?"}}]}




def _answers(specs: list[tuple[str, int, str]], more: str | None = None) -> pa.Table:
    start = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)
    rows = []
    for i, (person, score, text) in enumerate(specs):
        rows.append({"event_id": f"a{i}", "timestamp": start + timedelta(hours=i), "anonymous_id": person,
                     "user_id": None, "properties": json.dumps({
                         "survey_id": "csat-delivery", "survey_version": 1, "lang": "de", "channel": "web",
                         "answers": {"csat": score, "why": text, **({"more": more} if more else {})}})})
    return pa.Table.from_pylist(rows)


def test_answers_become_one_row_per_scored_question_with_the_texts_after_it(ws: Workspace) -> None:
    save_survey(ws.catalog, "default", survey_from_dict(SURVEY))
    res = record_answers(ws, "default", _answers([("p1", 5, "Super schnell geliefert")], more="Bitte schneller").append_column(
        "event", pa.array(["Survey Answered"])))
    assert (res.answers, res.rows, res.skipped) == (1, 1, 0)
    (row,) = feedback_rows(ws, "default")
    assert row["feedback_id"] == "survey:a0:csat" and row["kind"] == "csat" and row["scale_max"] == 5.0
    assert row["text"] == "Super schnell geliefert\nBitte schneller" and row["touchpoint"] == "delivery"


def test_sync_reads_stored_answer_events_once(ws: Workspace) -> None:
    save_survey(ws.catalog, "default", survey_from_dict(SURVEY))
    props = {"survey_id": "csat-delivery", "survey_version": 1, "answers": {"csat": 2}}
    ws.append(journeys({"p7": [{"event": "Survey Answered", "at": "2025-06-02 10:00", "properties": props},
                               {"event": "Order Delivered", "at": "2025-06-01 10:00"}]}), source="test")
    first, again = sync(ws, "default"), sync(ws, "default")
    assert (first.answers, first.rows) == (1, 1) and (again.answers, again.rows) == (1, 0)


def test_a_detractor_and_a_negative_run_are_mailed_once_with_their_texts(
        ws: Workspace, smtp_server: tuple[int, Inbox]) -> None:
    port, inbox = smtp_server
    (ws.root / "cxlens.toml").write_text((ws.root / "cxlens.toml").read_text() + (
        f'\n[alerts]\nemail = ["cx@example.com"]\nsmtp = {{host = "127.0.0.1", port = {port}}}\n'))
    ws = Workspace.open(ws.root)  # read the new config
    save_survey(ws.catalog, "default", survey_from_dict(SURVEY))
    table = _answers([("p1", 1, "Paket kam kaputt an"), ("p2", 3, "Lieferung viel zu spät"),
                      ("p3", 3, "Der Fahrer war unfreundlich und zu spät"), ("p4", 5, "Alles gut")])
    record_answers(ws, "default", table.append_column("event", pa.array(["Survey Answered"] * 4)))
    res = alert_pending(ws, "default")
    assert res.alerts >= 2 and res.mailed == 1
    body = inbox.messages[0].get_payload()
    assert "Detractor at delivery" in body and "Paket kam kaputt an" in body
    assert "Negative run at delivery" in body and "Lieferung viel zu spät" in body
    assert alert_pending(ws, "default").alerts == 0 and len(inbox.messages) == 1
    ws.close()


def test_many_small_answer_batches_are_merged_into_one_file(ws: Workspace) -> None:
    from cxlens.surveys.answers import COMPACT_AFTER
    from cxlens.voice.feedback_import import feedback_dir

    save_survey(ws.catalog, "default", survey_from_dict(SURVEY))
    for i in range(COMPACT_AFTER + 1):
        t = _answers([(f"p{i}", 4, "ok")]).append_column("event", pa.array(["Survey Answered"]))
        t = t.set_column(0, "event_id", pa.array([f"batch{i}"]))
        assert record_answers(ws, "default", t).rows == 1
    files = list(feedback_dir(ws.root, "default").glob("*.parquet"))
    assert len(files) == 1 and len(feedback_rows(ws, "default")) == COMPACT_AFTER + 1
