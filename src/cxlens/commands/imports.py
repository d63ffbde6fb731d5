"""``cxlens import``: bring a file from another system into the workspace."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace
from cxlens.errors import BadRowsError
from cxlens.ingest.importers import FORMATS, ImportReport, Progress, import_file


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="File to import (.gz is fine).")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help=f"One of {'|'.join(FORMATS)}; guessed from the name if left out."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="TOML/YAML column mapping (docs/importing.md).")
    ] = None,
    project: ProjectOpt = None,
    source: Annotated[str | None, typer.Option("--source", help="Source name recorded on every event.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Import nothing if any row is bad.")] = False,
    json: JsonOpt = False,
) -> None:
    """Import CSV, JSON Lines, Parquet, Segment archives, XES logs or order tables."""
    ws = open_workspace()
    try:
        with _progress(enabled=not json and sys.stdout.isatty()) as progress:
            try:
                report = import_file(ws, file, format=format, mapping=mapping, project=project,
                                     source=source, strict=strict, progress=progress)
            except BadRowsError as exc:
                if json:
                    emit_json({"error": exc.code, "message": exc.message, "rejects": exc.rejects[:100]})
                    raise SystemExit(2) from None  # click would swallow typer.Exit here
                raise
    finally:
        ws.close()
    if report.rejects_file:
        # the report names it inside the workspace (the catalog keeps it so, the workspace
        # may move); a user or a script reads it from wherever they are
        report = dataclasses.replace(report, rejects_file=str(ws.root / report.rejects_file))
    if json:
        emit_json(report.to_dict())
    else:
        _print(report)


def _print(r: ImportReport) -> None:
    console.print(
        f"imported [bold]{r.inserted:,}[/] events from {Path(r.file).name} into project "
        f"[bold]{r.project}[/] ({r.rows_read:,} rows read, {r.duplicates:,} already there, "
        f"{r.rejected:,} rejected) in {r.seconds:.1f} s ({r.events_per_second:,.0f} rows/s)",
        highlight=False,
    )
    if r.rejects_file:
        for line in r.first_rejects:
            console.print(f"  [yellow]rejected[/] {escape(line)}", highlight=False)
        console.print(f"[yellow]all rejected rows and why:[/] {r.rejects_file}",
                      highlight=False)
        if r.format == "segment" and r.rejected == r.rows_read:
            # a .json file is taken for a Segment archive; one's own events are JSON Lines
            console.print("not one message was a valid Segment/RudderStack message: for JSON Lines "
                          "of your own events pass --format jsonl --mapping FILE (docs/importing.md)",
                          highlight=False)


class _progress:
    """A rich progress bar for long imports; nothing when disabled (pipes, --json)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress | None:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                       TimeElapsedColumn(), console=console, transient=True)
        self.bar.start()
        return self.update

    def update(self, phase: str, fraction: float | None) -> None:
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.bar.add_task(phase, total=1.0)
        if fraction is not None:
            self.bar.update(task, completed=fraction)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
