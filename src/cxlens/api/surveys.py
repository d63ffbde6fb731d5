"""Survey endpoints of the server: public ones for the snippet and e-mail links.

* ``GET /v1/surveys``: active surveys for a write key (:mod:`cxlens.surveys.public`), CORS *.
* ``GET /cx-survey.js``: the survey snippet (loads beside ``/cx.js``).
* ``GET /s/<token>``: a personal survey page from an e-mail; ``POST`` takes the answer
  once and sends it through the collector (WAL -> events -> feedback) as a
  ``Survey Answered`` event of the person named in the signed token.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from cxlens.api.collector import CORS, Collector
from cxlens.api.errors import json_response
from cxlens.errors import AuthError, CxError, ValidationError
from cxlens.ingest.privacy import PrivacySettings
from cxlens.ingest.segment import RequestInfo, normalize_messages
from cxlens.store.keys import list_projects
from cxlens.store.workspace import Workspace
from cxlens.surveys import links
from cxlens.surveys.answers import ANSWERED
from cxlens.surveys.definitions import Survey
from cxlens.surveys.public import active_for
from cxlens.surveys.store import get_survey

log = logging.getLogger("cxlens.surveys")
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
_GET_CORS = {**CORS, "Access-Control-Allow-Methods": "GET, OPTIONS"}


def _param(request: Request, name: str, limit: int = 1024) -> str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit} characters", field=name)
    return value


async def surveys_endpoint(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=_GET_CORS)
    c: Collector = request.app.state.collector
    project, _ = c.keys.lookup(_param(request, "writeKey"))
    lang = _param(request, "lang")
    if lang is not None and lang not in ("de", "en"):
        raise ValidationError("lang must be de or en", field="lang")
    user_id, anon = _param(request, "userId"), _param(request, "anonymousId")

    def load() -> list[dict[str, Any]]:
        ws = Workspace.open(request.app.state.workspace)
        try:
            return active_for(ws, project, user_id=user_id, anonymous_id=anon, lang=lang)
        finally:
            ws.close()

    surveys = await run_in_threadpool(load)
    return json_response({"surveys": surveys},
                         headers={**_GET_CORS, "Cache-Control": "no-store"})


async def survey_js(request: Request) -> Response:
    body = (STATIC / "cx-survey.js").read_bytes()
    return Response(body, media_type="application/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})


# -- personal links ----------------------------------------------------------------------
def _link_state(root: Path, token: str) -> tuple[links.LinkClaim, Survey, bool, PrivacySettings]:
    ws = Workspace.open(root)
    try:
        claim = links.read_unverified(token)
        try:
            key = links.project_key(ws.catalog, claim.project)
        except ValidationError:
            raise AuthError("this survey link is not valid", field="token") from None
        claim = links.verify(key, token)
        survey = get_survey(ws.catalog, claim.project, claim.survey_id)
        privacy = next((PrivacySettings.from_settings(p.settings) for p in list_projects(ws.catalog)
                        if p.project == claim.project), PrivacySettings.from_settings({}))
        return claim, survey, links.is_used(ws.catalog, claim), privacy
    finally:
        ws.close()


def _answers_from_form(survey: Survey, form: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in survey.questions:
        name = f"q_{q.id}"
        if q.kind == "multi":
            vals = [str(v) for v in form.getlist(name)]
            if vals:
                out[q.id] = vals
            continue
        raw = form.get(name)
        value = str(raw).strip() if raw is not None else ""
        if value == "":
            if q.required:
                raise ValidationError(f"question {q.id} needs an answer", field=name)
            continue
        if q.scored:
            try:
                n = int(value)
            except ValueError:
                raise ValidationError(f"{name} must be a whole number", field=name) from None
            assert q.min is not None and q.max is not None
            if not q.min <= n <= q.max:
                raise ValidationError(f"{name} must be from {q.min} to {q.max}", field=name)
            out[q.id] = n
        else:
            out[q.id] = value[:2000]
    if not out:
        raise ValidationError("please answer at least one question", field="answers")
    return out


def _page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    from cxlens.web.i18n import t

    env = request.app.state.web.env
    lang = values.get("lang", "en")
    html = env.get_template(template).render(t=lambda key, **kw: t(lang, key, **kw), request=request,
                                             **values)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


async def link_endpoint(request: Request) -> Response:
    token = request.path_params["token"]
    root = request.app.state.workspace
    try:
        claim, survey, used, privacy = await run_in_threadpool(_link_state, root, token)
    except CxError as exc:
        lang = "de" if "de" in (request.headers.get("accept-language") or "")[:2] else "en"
        return _page(request, "survey_link.html", exc.status_code, lang=lang, error=exc.message,
                     survey=None, done=False)
    lang = claim.lang
    if used:
        return _page(request, "survey_link.html", 409, lang=lang, survey=survey, done=True, error=None)
    if request.method == "GET":
        return _page(request, "survey_link.html", lang=lang, survey=survey, done=False, error=None)
    form = await request.form()
    try:
        answers = _answers_from_form(survey, form)
    except ValidationError as exc:
        return _page(request, "survey_link.html", 400, lang=lang, survey=survey, done=False,
                     error=exc.message, field=exc.field)

    def claim_it() -> bool:
        ws = Workspace.open(root)
        try:
            return links.claim_once(ws.catalog, claim)
        finally:
            ws.close()

    if not await run_in_threadpool(claim_it):
        return _page(request, "survey_link.html", 409, lang=lang, survey=survey, done=True, error=None)
    c: Collector = request.app.state.collector
    msg = {"type": "track", "event": ANSWERED, "userId": claim.user_id,
           "messageId": f"survey-link-{claim.nonce}", "timestamp": datetime.now(UTC).isoformat(),
           "properties": {"survey_id": survey.id, "survey_version": survey.version, "answers": answers,
                          "lang": lang, "channel": "email"},
           "context": {"library": {"name": "cxlens-survey-link", "version": "1"},
                       "campaign": {"medium": "email", "source": "cxlens-survey"}}}
    rows, errors, _ = normalize_messages(
        [msg], sent_at=None, received_at=datetime.now(UTC), limits=c.config.limits, privacy=privacy,
        request=RequestInfo(client_ip=None, deny_personal=False, source="survey"))
    if errors:  # our own message: a bug, not the respondent's mistake
        log.error("personal-link answer was not valid: %s", errors[0].to_dict())
    c.account("survey", 1, len(rows), errors, 0)
    await c.store(claim.project, rows)
    return _page(request, "survey_link.html", lang=lang, survey=survey, done=True, thanks=True, error=None)


def routes() -> list[Route]:
    return [Route("/v1/surveys", surveys_endpoint, methods=["GET", "OPTIONS"]),
            Route("/cx-survey.js", survey_js, methods=["GET"]),
            Route("/s/{token}", link_endpoint, methods=["GET", "POST"])]
