"""``cxlens report``: a self-contained HTML or PDF report of a period."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace
from cxlens.errors import ValidationError


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    period: Annotated[str, typer.Option(
        help="last-month, last-7-days, last-30-days or last-90-days.")] = "last-month",
    format: Annotated[str, typer.Option("--format", "-f", help="html or pdf.")] = "html",
    lang: Annotated[str, typer.Option(help="de or en.")] = "de",
    at: Annotated[str | None, typer.Option(
        help="Date the period is relative to (default: today, or the data's last day).")
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write KPIs vs targets, the journey map, the biggest drop-offs and the changes
    against the previous period to one file (HTML with inline assets, or PDF)."""
    from cxlens.web.reports import ReportSpec, check_format, resolve_period, write_report

    anchor = None
    if at:
        try:
            anchor = date.fromisoformat(at)
        except ValueError:
            raise ValidationError(f"--at must be a date such as 2025-07-01, got {at!r}",
                                  field="at") from None
    ws = open_workspace()
    try:
        spec = ReportSpec(project=project or ws.default_project, period=period,
                          lang=lang, anchor=anchor)  # type: ignore[arg-type]
        written = write_report(ws, spec, check_format(format), out)
        p = resolve_period(ws, spec)
    finally:
        ws.close()
    doc = {"out": str(written), "bytes": written.stat().st_size, "format": format,
           "period": {"start": p.start.isoformat(), "end": p.end.isoformat()}}
    if json:
        emit_json(doc)
    else:
        console.print(f"report for {p.start} \u2013 {p.end} written to {written} "
                      f"({doc['bytes']:,} bytes)", highlight=False)
