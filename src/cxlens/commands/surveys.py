"""``cxlens survey create|list|show|delete|link|sync``: surveys of a project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace
from cxlens.errors import ValidationError

survey_app = typer.Typer(help="Surveys (NPS, CSAT, CES, custom) for the snippet and e-mail links.",
                         no_args_is_help=True)
app.add_typer(survey_app, name="survey")

Opt = typer.Option


def _doc_from_flags(sid: str | None, name: str | None, kind: str, question_de: str | None,
                    question_en: str | None, follow_de: str | None, follow_en: str | None,
                    touchpoint: str | None, stage: str | None, targeting: dict[str, Any],
                    active: bool) -> dict[str, Any]:
    if kind in ("single", "multi"):
        raise ValidationError(f"--kind {kind}: choice questions need their options; write the survey "
                              "to a TOML/YAML file and pass --file (see docs/voice.md)", field="kind")
    questions: list[dict[str, Any]] = [{"id": kind if kind != "text" else "text", "kind": kind,
                                        "text": {"de": question_de, "en": question_en}}]
    if follow_de or follow_en:
        questions.append({"id": "why", "kind": "text", "text": {"de": follow_de, "en": follow_en}})
    return {"id": sid, "name": name or sid, "touchpoint": touchpoint, "stage": stage,
            "questions": questions, "targeting": targeting, "active": active}


@survey_app.command("create")
def create(
    file: Annotated[Path | None, Opt("--file", "-f", help="A survey as TOML, YAML or JSON.")] = None,
    sid: Annotated[str | None, Opt("--id", help="Survey id (lower-case, digits, - _).")] = None,
    name: Annotated[str | None, Opt("--name", help="A name for the team.")] = None,
    kind: Annotated[str, Opt("--kind", help="nps, csat, ces, scale or text.")] = "nps",
    question_de: Annotated[str | None, Opt("--question-de", help="The question in German.")] = None,
    question_en: Annotated[str | None, Opt("--question-en", help="The question in English.")] = None,
    follow_de: Annotated[str | None, Opt("--follow-up-de", help="A free-text follow-up, German.")] = None,
    follow_en: Annotated[str | None, Opt("--follow-up-en", help="The follow-up in English.")] = None,
    touchpoint: Annotated[str | None, Opt("--touchpoint", help="The touchpoint asked about.")] = None,
    stage: Annotated[str | None, Opt("--stage", help="Its journey stage.")] = None,
    trigger: Annotated[str, Opt("--trigger", help="event, stage or seconds.")] = "seconds",
    event: Annotated[str | None, Opt("--event", help="Trigger event name.")] = None,
    seconds: Annotated[float, Opt("--seconds", help="Delay / seconds on page.")] = 0.0,
    url: Annotated[str | None, Opt("--url", help="URL rule; * is a wildcard.")] = None,
    every_days: Annotated[float, Opt("--every-days", help="Show at most once per N days.")] = 90.0,
    max_answers: Annotated[int, Opt("--max-answers", help="Answers per person at most.")] = 1,
    sample: Annotated[float, Opt("--sample", help="Share of persons (0-1).")] = 1.0,
    inactive: Annotated[bool, Opt("--inactive", help="Store it without showing it.")] = False,
    replace: Annotated[bool, Opt("--replace", help="Save a new version of an existing survey.")] = False,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Create a survey (or, with --replace, its next version) from a file or from flags."""
    from cxlens.surveys.definitions import load_file, survey_from_dict, survey_to_doc
    from cxlens.surveys.store import save_survey

    if file is not None:
        survey = load_file(file)
    else:
        targeting = {"trigger": trigger, "seconds": seconds, "url": url, "every_days": every_days,
                     "max_answers": max_answers, "sample": sample}
        if trigger == "event":
            targeting["event"] = event
        if trigger == "stage":
            targeting["stage"] = stage
        survey = survey_from_dict(_doc_from_flags(sid, name, kind, question_de, question_en, follow_de,
                                                  follow_en, touchpoint, stage, targeting, not inactive))
    ws = open_workspace()
    try:
        p = project or ws.default_project
        ws.ensure_project(p)
        saved = save_survey(ws.catalog, p, survey, by="cli", create=not replace)
    finally:
        ws.close()
    if json:
        emit_json({"project": p, **survey_to_doc(saved)})
        return
    console.print(f"survey [bold]{saved.id}[/] version {saved.version} saved in {p} "
                  f"({len(saved.questions)} questions, {'active' if saved.active else 'inactive'})")


@survey_app.command("list")
def list_(project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """The project's surveys (current versions)."""
    from cxlens.surveys.definitions import survey_to_doc
    from cxlens.surveys.store import list_surveys

    ws = open_workspace()
    try:
        items = list_surveys(ws.catalog, project or ws.default_project)
    finally:
        ws.close()
    if json:
        emit_json([survey_to_doc(s) for s in items])
        return
    if not items:
        console.print("no surveys yet; create one with: cxlens survey create --file survey.toml")
    for s in items:
        kinds = ", ".join(q.kind for q in s.questions)
        tg = s.targeting
        when = tg.event or tg.stage or f"{tg.seconds:g} s on page"
        console.print(f"{s.id} v{s.version} [{'active' if s.active else 'inactive'}] {s.name}: {kinds}; "
                      f"touchpoint {s.touchpoint}; trigger {tg.trigger} ({when})", highlight=False, markup=False)


@survey_app.command("show")
def show(survey_id: Annotated[str, typer.Argument(help="Survey id.")],
         version: Annotated[int | None, Opt("--version", help="An older version.")] = None,
         project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """One survey's definition and its versions."""
    from cxlens.surveys.definitions import survey_to_doc
    from cxlens.surveys.store import get_survey, versions

    ws = open_workspace()
    try:
        p = project or ws.default_project
        s = get_survey(ws.catalog, p, survey_id, version)
        hist = versions(ws.catalog, p, survey_id)
    finally:
        ws.close()
    doc = {**survey_to_doc(s), "versions": hist}
    if json:
        emit_json(doc)
        return
    console.print(f"[bold]{s.id}[/] v{s.version}: {s.name} (touchpoint {s.touchpoint}, stage {s.stage or '-'})")
    for q in s.questions:
        scale = f" {q.min}-{q.max}" if q.min is not None else ""
        console.print(f"  {q.id} ({q.kind}{scale}): {q.text.de} / {q.text.en}", highlight=False)
    console.print(f"  targeting: {s.targeting}", highlight=False)


@survey_app.command("delete")
def delete(survey_id: Annotated[str, typer.Argument(help="Survey id.")], project: ProjectOpt = None,
           json: JsonOpt = False) -> None:
    """Stop a survey (its answers stay in the feedback)."""
    from cxlens.surveys.store import delete_survey

    ws = open_workspace()
    try:
        n = delete_survey(ws.catalog, project or ws.default_project, survey_id)
    finally:
        ws.close()
    if json:
        emit_json({"deleted": survey_id, "versions": n})
        return
    console.print(f"survey {survey_id} deleted ({n} versions; answers are kept)")


@survey_app.command("link")
def link(survey_id: Annotated[str, typer.Argument(help="Survey id.")],
         user: Annotated[str, Opt("--user", help="The person's user id.")],
         base_url: Annotated[str, Opt("--base-url", help="Where cxlens serve is reachable.")] = "http://127.0.0.1:8000",
         lang: Annotated[str, Opt("--lang", help="de or en.")] = "de",
         days: Annotated[float, Opt("--days", help="Valid for N days.")] = 30.0,
         project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """A personal, signed survey link for an e-mail (one answer per link)."""
    from cxlens.surveys import links
    from cxlens.surveys.store import get_survey

    ws = open_workspace()
    try:
        p = project or ws.default_project
        get_survey(ws.catalog, p, survey_id)
        token = links.sign(links.project_key(ws.catalog, p), links.make_claim(p, survey_id, user, lang, days))
    finally:
        ws.close()
    url = f"{base_url.rstrip('/')}/s/{token}"
    if json:
        emit_json({"url": url, "token": token, "survey": survey_id, "user": user})
        return
    console.print(url, highlight=False, soft_wrap=True)


@survey_app.command("sync")
def sync_cmd(project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Turn stored 'Survey Answered' events into feedback rows (idempotent)."""
    from dataclasses import asdict

    from cxlens.surveys.answers import sync

    ws = open_workspace()
    try:
        res = sync(ws, project or ws.default_project)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    console.print(f"{res.answers} answers: {res.rows} new feedback rows, {res.skipped} skipped")
