"""Alerts on missed KPI targets, by webhook (POST JSON) or e-mail.

Configured in ``cxlens.toml``::

    [targets]
    conversion_rate = ">= 0.03"
    nps = ">= 20"

    [alerts]
    webhook = "https://hooks.example.com/cx"       # optional
    email = ["cx-team@example.com"]                # optional, needs smtp
    smtp = {host = "mail.example.com", port = 587, starttls = true,
            user = "cxlens", password = "...", from = "cxlens@example.com"}
    cron = "0 8 * * *"                             # check inside `cxlens serve`
    days = 7                                       # the period checked

The dashboard's overview marks misses; an admin can send the alert at once from there.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace
from cxlens.web import kpis, queries

if TYPE_CHECKING:
    from cxlens.web.pages import Web

log = logging.getLogger("cxlens.web.alerts")


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "cxlens@localhost"
    starttls: bool = False
    ssl: bool = False


def smtp_from(raw: Any, where: str) -> Smtp:
    if not isinstance(raw, Mapping) or not raw.get("host"):
        raise ConfigError(f"{where}.smtp needs at least host, e.g. {{host = \"localhost\"}}",
                          field=f"{where}.smtp")
    try:
        port = int(raw.get("port", 25))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.smtp.port must be a number", field=f"{where}.smtp.port") \
            from None
    return Smtp(str(raw["host"]), port, raw.get("user"), raw.get("password"),
                str(raw.get("from", "cxlens@localhost")), bool(raw.get("starttls", False)),
                bool(raw.get("ssl", False)))


def send_mail(smtp: Smtp, to: Sequence[str], subject: str, text: str, html: str | None = None,
              attachments: Sequence[tuple[str, bytes, str]] = ()) -> None:
    """One message over SMTP (stdlib smtplib); attachments are (name, bytes, mime type)."""
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    for name, data, mime in attachments:
        main, _, sub = mime.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    cls = smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP
    with cls(smtp.host, smtp.port, timeout=30) as s:
        if smtp.starttls:
            s.starttls(context=ssl.create_default_context())
        if smtp.user:
            s.login(smtp.user, smtp.password or "")
        s.send_message(msg)


def configured(config: Mapping[str, Any]) -> bool:
    raw = config.get("alerts", {}) or {}
    return bool(raw.get("webhook") or raw.get("email"))


def payload(project: str, ov: kpis.Overview) -> dict[str, Any]:
    return {
        "project": project,
        "period": {"start": ov.period.start.isoformat(), "end": ov.period.end.isoformat()},
        "misses": [{"kpi": k.name, "actual": k.current, "previous": k.previous,
                    "target": k.target.text if k.target else None} for k in ov.misses],
    }


def post_webhook(url: str, body: dict[str, Any], timeout: float = 10.0) -> int:
    if not url.startswith(("http://", "https://")):
        raise ConfigError("[alerts] webhook must be an http(s) URL", field="alerts.webhook")
    req = urllib.request.Request(url, data=orjson.dumps(body), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "cxlens-alerts"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return int(resp.status)


def evaluate(ws: Workspace, project: str, days: int | None = None) -> kpis.Overview:
    raw = ws.config.get("alerts", {}) or {}
    days = days or int(raw.get("days", 7))
    period = queries.last_days(days, queries.default_end(ws, project))
    con = queries.connect(ws, project)
    try:
        return kpis.overview(con, period, kpis.parse_targets(ws.config),
                             queries.feedback_files(ws, project))
    finally:
        con.close()


def notify(config: Mapping[str, Any], project: str, ov: kpis.Overview) -> int:
    """Send the misses to every configured channel; the number of channels reached."""
    if not ov.misses:
        return 0
    raw = config.get("alerts", {}) or {}
    body = payload(project, ov)
    sent = 0
    if raw.get("webhook"):
        post_webhook(str(raw["webhook"]), body)
        sent += 1
    if raw.get("email"):
        to = [raw["email"]] if isinstance(raw["email"], str) else list(raw["email"])
        lines = [f"- {m['kpi']}: {m['actual']} (target {m['target']})" for m in body["misses"]]
        send_mail(smtp_from(raw.get("smtp"), "alerts"), to,
                  f"cxlens: {len(lines)} KPI target(s) missed in {project}",
                  f"Period {body['period']['start']} to {body['period']['end']}\n" +
                  "\n".join(lines))
        sent += 1
    return sent


def endpoint(web: Web) -> Callable[[Request], Any]:
    async def send(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from cxlens.web import auth

        form = await request.form()
        if not web.sessions.csrf_ok(request.cookies.get(auth.CSRF_COOKIE),
                                    str(form.get("csrf", ""))):
            return Response("invalid CSRF token", status_code=400, media_type="text/plain")
        project = str(form.get("project", ""))

        def run() -> Response:
            ws = Workspace.open(web.root)
            try:
                name = web.sessions.load(request.cookies.get(auth.SESSION_COOKIE))
                user = auth.get_user(ws.catalog, name) if name else None
                if user is None:
                    return RedirectResponse("/login", status_code=303)
                if not user.is_admin or project not in user.projects:
                    return Response("forbidden", status_code=403, media_type="text/plain")
                sent = notify(ws.config, project, evaluate(ws, project))
                return RedirectResponse(f"/?project={project}&sent={sent}", status_code=303)
            finally:
                ws.close()

        return await run_in_threadpool(run)

    return send
