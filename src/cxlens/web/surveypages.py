"""Survey pages of the dashboard: the list with the snippet to install, and create/edit/
delete for administrators (POST with the CSRF token; every save is a new version).

The form has fixed slots for up to :data:`SLOTS` questions (no script needed); an empty
slot is ignored. Choice options are one per line, ``id | Deutsch | English``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cxlens.errors import ValidationError
from cxlens.surveys.definitions import KINDS, TRIGGERS, Survey, survey_from_dict
from cxlens.surveys.store import delete_survey, get_survey, list_surveys, save_survey
from cxlens.web.charts import Chart, Table
from cxlens.web.i18n import t

if TYPE_CHECKING:
    from cxlens.web.pages import Ctx, Web

SLOTS: Final = 5
Guard = Callable[..., Callable[[Request], Response]]


def _values(s: Survey | None) -> dict[str, Any]:
    """What the form shows: a stored survey, or the defaults of a new one."""
    if s is None:
        return {"id": "", "name": "", "touchpoint": "", "stage": "", "active": True, "trigger": "seconds",
                "event": "", "seconds": "0", "url": "", "every_days": "90", "max_answers": "1", "sample": "1",
                "questions": [{"id": "", "kind": "nps", "de": "", "en": "", "options": ""}] * SLOTS, "version": 0}
    tg = s.targeting
    qs = [{"id": q.id, "kind": q.kind, "de": q.text.de, "en": q.text.en,
           "options": "\n".join(f"{o.id} | {o.text.de} | {o.text.en}" for o in q.options)} for q in s.questions]
    qs += [{"id": "", "kind": "text", "de": "", "en": "", "options": ""}] * (SLOTS - len(qs))
    return {"id": s.id, "name": s.name, "touchpoint": s.touchpoint, "stage": s.stage or "", "active": s.active,
            "trigger": tg.trigger, "event": tg.event or tg.stage or "", "seconds": f"{tg.seconds:g}",
            "url": tg.url or "", "every_days": f"{tg.every_days:g}", "max_answers": str(tg.max_answers),
            "sample": f"{tg.sample:g}", "questions": qs, "version": s.version}


def _form_values(form: Any) -> dict[str, Any]:
    v: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in ("id", "name", "touchpoint", "stage", "trigger", "event",
                                                    "seconds", "url", "every_days", "max_answers", "sample")}
    v["active"] = form.get("active") == "on"
    v["version"] = 0
    v["questions"] = [{f: str(form.get(f"q{i}_{f}", "")).strip() for f in ("id", "kind", "de", "en", "options")}
                      for i in range(SLOTS)]
    return v


def _num(v: dict[str, Any], key: str, cast: Callable[[str], Any]) -> Any:
    try:
        return cast(v[key] or "0")
    except ValueError:
        raise ValidationError(f"{key} must be a number", field=f"targeting.{key}") from None


def doc_from_values(v: dict[str, Any]) -> dict[str, Any]:
    """The survey document of the form's values (validated afterwards by survey_from_dict)."""
    questions = []
    for i, q in enumerate(v["questions"]):
        if not (q["id"] or q["de"] or q["en"]):
            continue
        doc: dict[str, Any] = {"id": q["id"], "kind": q["kind"], "text": {"de": q["de"], "en": q["en"]}}
        if q["kind"] in ("single", "multi"):
            opts = []
            for line in q["options"].splitlines():
                if not line.strip():
                    continue
                parts = [p.strip() for p in line.split("|")]
                if len(parts) != 3:
                    raise ValidationError(f"questions[{i}].options: write each option as 'id | Deutsch | English'",
                                          field=f"questions[{i}].options")
                opts.append({"id": parts[0], "text": {"de": parts[1], "en": parts[2]}})
            doc["options"] = opts
        questions.append(doc)
    trigger = v["trigger"]
    targeting: dict[str, Any] = {"trigger": trigger, "seconds": _num(v, "seconds", float),
                                 "every_days": _num(v, "every_days", float),
                                 "max_answers": _num(v, "max_answers", int), "sample": _num(v, "sample", float)}
    if v["url"]:
        targeting["url"] = v["url"]
    if trigger in ("event", "stage"):
        targeting[trigger] = v["event"]
    return {"id": v["id"], "name": v["name"], "touchpoint": v["touchpoint"], "stage": v["stage"] or None,
            "questions": questions, "targeting": targeting, "active": v["active"]}


def _list_chart(ctx: Ctx, items: list[Survey]) -> Chart:
    lang = ctx.lang
    rows = tuple((s.id, s.name, s.version, s.touchpoint, s.targeting.trigger,
                  ", ".join(q.kind for q in s.questions), s.active) for s in items)
    display = tuple((s.id, s.name, str(s.version), s.touchpoint,
                     t(lang, f"surveys.f.trigger.{s.targeting.trigger}") + (
                         f": {s.targeting.event or s.targeting.stage}" if s.targeting.trigger != "seconds" else ""),
                     ", ".join(t(lang, f"surveys.kind.{q.kind}") for q in s.questions),
                     t(lang, "surveys.active" if s.active else "surveys.inactive")) for s in items)
    links = tuple(ctx.url("/surveys/edit", id=s.id) if ctx.user.is_admin else None for s in items)
    return Chart("surveys", t(lang, "surveys.title"),
                 Table(("id", "name", "version", "touchpoint", "trigger", "questions", "active"), rows, display, links))


def list_page(web: Web, ctx: Ctx) -> Response:
    from cxlens.store.keys import list_projects
    from cxlens.web.pages import page_response

    items = list_surveys(ctx.ws.catalog, ctx.project)
    key = next((p.write_key for p in list_projects(ctx.ws.catalog) if p.project == ctx.project), None)
    base = f"{ctx.request.url.scheme}://{ctx.request.url.netloc}"
    q = ctx.request.query_params
    note = (t(ctx.lang, "surveys.saved", id=q["saved"], version=q.get("v", "")) if q.get("saved")
            else t(ctx.lang, "surveys.deleted", id=q["deleted"]) if q.get("deleted") else None)
    return page_response(web, ctx, "surveys.html", [_list_chart(ctx, items)], form=None, note=note,
                         write_key=key, base=base, kinds=KINDS, triggers=TRIGGERS, error=None)


def edit_page(web: Web, ctx: Ctx, form: Any = None) -> Response:
    from cxlens.web.pages import page_response

    error = field = None
    status = 200
    sid = ctx.request.query_params.get("id")
    if form is None:
        values = _values(get_survey(ctx.ws.catalog, ctx.project, sid) if sid else None)
    else:
        values = _form_values(form)
        try:
            survey = survey_from_dict(doc_from_values(values))
            exists = any(s.id == survey.id for s in list_surveys(ctx.ws.catalog, ctx.project))
            if exists and form.get("original") != survey.id:
                raise ValidationError(f"survey {survey.id!r} already exists; pick another id", field="id")
            saved = save_survey(ctx.ws.catalog, ctx.project, survey, by=ctx.user.name)
            return RedirectResponse(ctx.url("/surveys", saved=saved.id, v=saved.version), status_code=303)
        except ValidationError as exc:
            error, field, status = exc.message, exc.field, 400
    return page_response(web, ctx, "surveys.html", None, status=status, form=values, error=error,
                         field=field, kinds=KINDS, triggers=TRIGGERS, slots=SLOTS, note=None,
                         original=sid or (form.get("original", "") if form is not None else ""))


def delete_action(web: Web, ctx: Ctx, form: Any) -> Response:
    del web
    sid = str(form.get("id", ""))
    delete_survey(ctx.ws.catalog, ctx.project, sid)
    return RedirectResponse(ctx.url("/surveys", deleted=sid), status_code=303)


def routes(web: Web, guarded: Guard) -> list[Route]:
    from cxlens.web.pages import posted

    def get(fn: Callable[[Web, Ctx], Response], admin: bool = False) -> Callable[[Request], Response]:
        return guarded(web, lambda ctx: fn(web, ctx), admin)

    return [Route("/surveys", get(list_page), methods=["GET"]),
            Route("/surveys/edit", get(edit_page, admin=True), methods=["GET"]),
            Route("/surveys/edit", posted(web, edit_page), methods=["POST"]),
            Route("/surveys/delete", posted(web, delete_action), methods=["POST"])]

