"""Self-contained reports: KPIs against targets, the journey map, the biggest drop-offs
and the changes against the previous period, as one HTML file or a PDF.

The HTML has its CSS inline and draws its bars with CSS rather than Plotly: no script,
~30 KB instead of ~5 MB, readable in any mail client, and it prints to PDF without
waiting for JavaScript. The PDF is that HTML printed by headless chromium (Debian's
``/usr/bin/chromium``, flags as in the field notes), which everyone on the team
already needs for the browser tests; no second rendering engine to keep in step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxlens.errors import ConfigError, CxError, ValidationError
from cxlens.store.workspace import Workspace
from cxlens.web import journeymap, kpis, queries, views
from cxlens.web.i18n import Fmt, Lang, channel_label, stage_label, t

HERE = Path(__file__).resolve().parent
Format = Literal["html", "pdf"]
PERIODS = ("last-month", "last-7-days", "last-30-days", "last-90-days")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-pdf-header-footer")


class ReportError(CxError):
    code = "report"


@dataclass(frozen=True, slots=True)
class ReportSpec:
    project: str
    period: str = "last-month"
    lang: Lang = "de"
    anchor: date | None = None  # "today" for the period; default: see queries.default_end

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValidationError(f"period must be one of {list(PERIODS)}, got {self.period!r}",
                                  field="period")
        if self.lang not in ("de", "en"):
            raise ValidationError("lang must be de or en", field="lang")


def resolve_period(ws: Workspace, spec: ReportSpec) -> queries.Period:
    """``last-month`` is the calendar month before ``anchor`` (default today); when the
    data ends before today (an archive, the demo) it is the data's last complete month."""
    end = spec.anchor or queries.default_end(ws, spec.project)
    if spec.period == "last-month":
        return queries.month_period(spec.anchor or end + timedelta(days=1))
    days = int(spec.period.split("-")[1])
    return queries.last_days(days, end)


def render_html(ws: Workspace, spec: ReportSpec) -> str:
    if spec.project not in ws.projects():
        raise ValidationError(f"project {spec.project!r} does not exist", field="project")
    period = resolve_period(ws, spec)
    lang = spec.lang
    fmt = Fmt(lang)
    con = queries.connect(ws, spec.project)
    try:
        feedback = queries.feedback_files(ws, spec.project)
        ov = kpis.overview(con, period, kpis.parse_targets(ws.config), feedback)
        jm = journeymap.journey_map(con, period, feedback,
                                    journeymap.configured_stages(ws.root, ws.config))
    finally:
        con.close()
    drops = jm.biggest_dropoffs(6)
    worst = max((c.persons - c.advanced for c in drops), default=1) or 1
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html"]))
    css = (HERE / "static" / "cx.css").read_text()
    return env.get_template("report.html").render(
        lang=lang, t=lambda key, **kw: t(lang, key, **kw), fmt=fmt, ov=ov, jm=jm,
        channel_label=lambda ch: channel_label(lang, ch),
        stage_label=lambda st: stage_label(lang, st),
        rows=views.journey_cells(jm, lang, fmt), drops=drops, worst=worst, css=css,
        project=spec.project, period=period, kpi_value=views.kpi_value,
        kpi_change=views.kpi_change, target_text=views.target_text,
        generated=datetime.now(UTC))


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, out: Path, timeout: float = 120.0) -> None:
    exe = chromium()
    if exe is None:
        raise ReportError("PDF needs chromium: apt-get install -y chromium (or use --format html)")
    with tempfile.TemporaryDirectory(prefix="cxlens-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(html, encoding="utf-8")
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile",
               f"--print-to-pdf={out.resolve()}", src.as_uri()]
        env = {**os.environ, "HOME": tmp}
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
        if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            tail = proc.stderr.decode(errors="replace")[-400:]
            raise ReportError(f"chromium could not print the PDF (exit {proc.returncode}): {tail}")


def write_report(ws: Workspace, spec: ReportSpec, fmt: Format, out: Path) -> Path:
    if fmt not in ("html", "pdf"):
        raise ValidationError("format must be html or pdf", field="format")
    html = render_html(ws, spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "html":
        out.write_text(html, encoding="utf-8")
    else:
        html_to_pdf(html, out)
    return out


def report_bytes(ws: Workspace, spec: ReportSpec, fmt: Format) -> bytes:
    with tempfile.TemporaryDirectory(prefix="cxlens-report-") as tmp:
        path = write_report(ws, spec, fmt, Path(tmp) / f"report.{fmt}")
        return path.read_bytes()


def check_format(value: str) -> Format:
    if value not in ("html", "pdf"):
        raise ConfigError(f"format must be html or pdf, got {value!r}", field="format")
    return value  # type: ignore[return-value]
