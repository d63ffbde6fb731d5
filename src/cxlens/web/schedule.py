"""Scheduled reports and target checks inside ``cxlens serve``.

``cxlens.toml``::

    [[reports]]
    cron = "0 7 1 * *"            # croniter syntax, evaluated in UTC
    to = ["chef@example.com"]
    period = "last-month"         # last-month, last-7-days, last-30-days, last-90-days
    format = "pdf"                # or html
    lang = "de"
    project = "shop"              # default: the workspace's default project
    smtp = {host = "mail.example.com", port = 587, starttls = true, from = "cx@example.com"}

``[alerts] cron`` checks the KPI targets on its own schedule (see ``alerts``).

The same process keeps resolved persons current: every ``[identity] refresh_seconds``
(default 300, 0 turns it off) it resolves the identities of projects that received events
since their last resolve (``identity.freshness``), at start-up first.

One asyncio task per server process waits for the next due time and runs the job in a
thread. With ``--workers N`` each worker would send its own copy, so only the process
that wins an advisory lock file (``<ws>/_tmp/scheduler.lock``) runs schedules.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import croniter

from cxlens.errors import ConfigError
from cxlens.store.locking import try_lock
from cxlens.store.workspace import Workspace
from cxlens.web import alerts, reports

log = logging.getLogger("cxlens.web.schedule")


@dataclass(frozen=True, slots=True)
class ReportJob:
    cron: str
    to: tuple[str, ...]
    smtp: alerts.Smtp
    spec: reports.ReportSpec
    format: reports.Format


def parse_reports(config: Mapping[str, Any], default_project: str) -> list[ReportJob]:
    raw = config.get("reports", []) or []
    if not isinstance(raw, list):
        raise ConfigError("[[reports]] must be an array of tables", field="reports")
    jobs = []
    for i, r in enumerate(raw):
        where = f"reports[{i}]"
        if not isinstance(r, Mapping):
            raise ConfigError(f"{where} must be a table", field=where)
        cron = str(r.get("cron", ""))
        if not croniter.is_valid(cron):
            raise ConfigError(f"{where}.cron {cron!r} is not a cron expression such as "
                              "\"0 7 1 * *\"", field=f"{where}.cron")
        to = r.get("to", [])
        to = [to] if isinstance(to, str) else list(to)
        if not to or not all(isinstance(x, str) and "@" in x for x in to):
            raise ConfigError(f"{where}.to must list e-mail addresses", field=f"{where}.to")
        spec = reports.ReportSpec(project=str(r.get("project", default_project)),
                                  period=str(r.get("period", "last-month")),
                                  lang=r.get("lang", "de"))
        jobs.append(ReportJob(cron, tuple(to), alerts.smtp_from(r.get("smtp"), where), spec,
                              reports.check_format(str(r.get("format", "pdf")))))
    return jobs


def send_report(root: Path, job: ReportJob) -> None:
    ws = Workspace.open(root)
    try:
        data = reports.report_bytes(ws, job.spec, job.format)
        period = reports.resolve_period(ws, job.spec)
    finally:
        ws.close()
    name = f"cxlens-{job.spec.project}-{period.start:%Y-%m-%d}.{job.format}"
    mime = "application/pdf" if job.format == "pdf" else "text/html"
    subject = (f"cxlens report {job.spec.project}: {period.start:%Y-%m-%d} \u2013 "
               f"{period.end:%Y-%m-%d}")
    alerts.send_mail(job.smtp, job.to, subject,
                     f"{subject}\n\nThe report is attached ({name}).",
                     attachments=[(name, data, mime)])
    log.info("sent report %s to %s", name, ", ".join(job.to))


def check_targets(root: Path) -> int:
    """Alert on missed targets, once per change: the same KPIs missed for the same period
    end are not sent again on the next check (the state is kept in the catalog)."""
    from cxlens.web.auth import ensure_schema

    sent = 0
    ws = Workspace.open(root)
    try:
        ensure_schema(ws.catalog)
        for project in ws.projects():
            ov = alerts.evaluate(ws, project)
            state = ",".join(sorted(k.name for k in ov.misses)) + f"@{ov.period.end}"
            key = f"alerted:{project}"
            rows = ws.catalog.execute("SELECT value FROM web_settings WHERE key = ?",
                                      (key,)).fetchall()
            if rows and rows[0][0] == state:
                continue
            if ov.misses:
                sent += alerts.notify(ws.config, project, ov)
            ws.catalog.execute("INSERT OR REPLACE INTO web_settings (key, value) VALUES (?, ?)",
                               (key, state))
    finally:
        ws.close()
    return sent


def due_jobs(root: Path) -> list[tuple[str, Callable[[], None]]]:
    """(cron, job) pairs from the workspace's configuration."""
    ws = Workspace.open(root)
    try:
        config, default = ws.config, ws.default_project
    finally:
        ws.close()
    jobs: list[tuple[str, Callable[[], None]]] = [
        (j.cron, lambda j=j: send_report(root, j))  # type: ignore[misc]
        for j in parse_reports(config, default)]
    cron = (config.get("alerts", {}) or {}).get("cron")
    if cron and alerts.configured(config):
        if not croniter.is_valid(str(cron)):
            raise ConfigError(f"[alerts] cron {cron!r} is not a cron expression",
                              field="alerts.cron")
        def run_check() -> None:
            check_targets(root)

        jobs.append((str(cron), run_check))
    return jobs


async def run_forever(root: Path, now: Callable[[], datetime] = lambda: datetime.now(UTC)
                      ) -> None:
    try:
        jobs = due_jobs(root)
    except ConfigError as exc:
        log.error("schedules not started: %s", exc.message)
        return
    if not jobs:
        return
    iters = [(croniter(cron, now()), fn) for cron, fn in jobs]
    nexts = [it.get_next(datetime) for it, _ in iters]
    while True:
        i = min(range(len(nexts)), key=lambda k: nexts[k])
        wait = (nexts[i] - now()).total_seconds()
        if wait > 0:
            await asyncio.sleep(min(wait, 60.0))
            continue
        try:
            await asyncio.to_thread(iters[i][1])
        except Exception:  # a failed send must not stop later schedules
            log.exception("scheduled job failed")
        nexts[i] = iters[i][0].get_next(datetime)


def refresh_seconds(config: Mapping[str, Any]) -> float:
    raw = (config.get("identity", {}) or {}).get("refresh_seconds", 300)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ConfigError(f"[identity] refresh_seconds = {raw!r}: write a number of seconds "
                          "(0 turns the refresh off)", field="identity.refresh_seconds")
    return float(raw)


def refresh_identities(root: Path) -> int:
    """Resolve every project that received events since its last resolve; how many.
    (The journey analyses' sequence cache is not rebuilt here: on a workspace a collector
    feeds at full speed its build held gigabytes of arrays outside DuckDB's memory limit
    every round; ``cxlens compact`` builds it.)"""
    from cxlens.identity.freshness import refresh

    ws = Workspace.open(root)
    try:
        return sum(refresh(ws, project) is not None for project in ws.projects())
    finally:
        ws.close()


async def refresh_forever(root: Path, stop: asyncio.Event) -> None:
    """Refresh until ``stop`` is set; a refresh under way is finished, never abandoned
    (its DuckDB thread must not outlive the server)."""
    ws = Workspace.open(root)
    try:
        every = refresh_seconds(ws.config)
    except ConfigError as exc:
        log.error("identity refresh not started: %s", exc.message)
        return
    finally:
        ws.close()
    while every > 0 and not stop.is_set():
        try:
            n = await asyncio.to_thread(refresh_identities, root)
            if n:
                log.info("resolved identities of %d project(s)", n)
        except Exception:  # a failed refresh is retried on the next round
            log.exception("identity refresh failed")
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def _lock(root: Path) -> int | None:
    path = root / "_tmp" / "scheduler.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return try_lock(path)


def install(app: Any, root: Path) -> None:
    """Run the schedules for the app's lifetime (wraps its lifespan)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            fd = _lock(root)
            stop = asyncio.Event()
            tasks = ([asyncio.create_task(run_forever(root)),
                      asyncio.create_task(refresh_forever(root, stop))] if fd is not None else [])
            try:
                yield state
            finally:
                stop.set()
                if tasks:
                    tasks[0].cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                if fd is not None:
                    os.close(fd)

    app.router.lifespan_context = lifespan
