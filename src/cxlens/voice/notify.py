"""Alerts on feedback as it arrives: detractors and runs of negative texts per touchpoint,
sent to the webhook and/or the e-mail addresses of ``[alerts]`` in ``cxlens.toml``.

``voice analyze`` alerts over a whole analysis; this is the same rule set
(:func:`cxlens.voice.alerts.find_alerts`) over the feedback not alerted on yet, run by
the collector after survey answers were stored. The ids alerted on are kept in
``<ws>/voice/<project>/alerted.json`` (shared with ``voice analyze``), under a lock
file so two server workers do not send the same alert twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from cxlens.store.locking import writer_lock
from cxlens.store.workspace import Workspace
from cxlens.voice import alerts as al
from cxlens.voice.sentiment import sentiment_batch
from cxlens.voice.workspace import feedback_rows, voice_dir

log = logging.getLogger("cxlens.voice")


@dataclass(frozen=True, slots=True)
class NotifyResult:
    alerts: int
    webhook_status: int | None
    mailed: int


def configured(ws: Workspace) -> bool:
    raw = ws.config.get("alerts", {}) or {}
    return bool(raw.get("webhook") or raw.get("email"))


def _mail_text(project: str, found: list[al.Alert]) -> str:
    lines = [f"cxlens: {len(found)} feedback alert(s) in project {project}", ""]
    for a in found:
        what = ("Detractor" if a.reason == "detractor" else "Negative run") + f" at {a.touchpoint}"
        if a.score is not None:
            what += f" (score {a.score:g})"
        lines.append(what)
        lines += [f"  - {t}" for t in a.texts]
        lines.append("")
    return "\n".join(lines)


def alert_pending(ws: Workspace, project: str, prefix: str | None = None) -> NotifyResult:
    """Send the alerts of feedback not alerted on yet (only ids starting with ``prefix``,
    e.g. ``survey:``, when given: answers arriving must not alert on an old import)."""
    raw = ws.config.get("alerts", {}) or {}
    webhook, emails = raw.get("webhook"), raw.get("email") or []
    if not (webhook or emails):
        return NotifyResult(0, None, 0)
    state = voice_dir(ws.root, project) / "alerted.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(state.with_name("alerts.lock")):
        done: set[str] = set(json.loads(state.read_text())) if state.exists() else set()
        rows = [r for r in feedback_rows(ws, project) if r["feedback_id"] not in done
                and (prefix is None or r["feedback_id"].startswith(prefix))]
        texts = [r for r in rows if r["text"]]
        labels: dict[str, str] = {}
        if texts:
            langs = [r["language"] if r["language"] in ("de", "en") else None for r in texts]
            for r, s in zip(texts, sentiment_batch([r["text"] for r in texts], langs), strict=True):
                labels[r["feedback_id"]] = s.label
        items = [al.Item(r["feedback_id"], r["timestamp"], r["touchpoint"] or "(none)", r["kind"], r["score"],
                         r["scale_max"], r["text"], labels.get(r["feedback_id"])) for r in rows]
        found = al.find_alerts(items)
        if not found:
            return NotifyResult(0, None, 0)
        status = al.post(str(webhook), project, found) if webhook else None
        mailed = 0
        if emails:
            from cxlens.web.alerts import send_mail, smtp_from

            to = [emails] if isinstance(emails, str) else [str(e) for e in emails]
            send_mail(smtp_from(raw.get("smtp"), "alerts"), to,
                      f"cxlens: {len(found)} feedback alert(s) in {project}", _mail_text(project, found))
            mailed = len(to)
        done |= {i for a in found for i in a.feedback_ids}
        tmp = state.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(done)))
        tmp.replace(state)
    return NotifyResult(len(found), status, mailed)


def alert_in_background(root: Any, project: str, prefix: str | None = None) -> None:
    """Run :func:`alert_pending` on its own workspace handle in a daemon thread, so a slow
    webhook never holds up the collector's writer."""
    import threading

    def run() -> None:
        try:
            ws = Workspace.open(root)
            try:
                res = alert_pending(ws, project, prefix)
                if res.alerts:
                    log.info("sent %d feedback alerts for %s", res.alerts, project)
            finally:
                ws.close()
        except Exception:  # a bad webhook or SMTP server: logged, the feedback is stored anyway
            log.exception("feedback alerts for %s could not be sent", project)

    threading.Thread(target=run, daemon=True, name="cxlens-feedback-alerts").start()
