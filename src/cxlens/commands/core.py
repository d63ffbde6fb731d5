"""Workspace commands: init, info, compact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cxlens.cli import (
    JsonOpt,
    ProjectOpt,
    app,
    check_known_project,
    console,
    emit_json,
    open_workspace,
    workspace_path,
)
from cxlens.errors import ValidationError
from cxlens.store.workspace import Workspace


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Directory for the new workspace.")] = None,
    project: Annotated[str, typer.Option("--project", "-p", help="Default project.")] = "default",
    json: JsonOpt = False,
) -> None:
    """Create a workspace: a directory of Parquet files and a small catalog."""
    ws = Workspace.init(workspace_path(directory), project=project)
    if json:
        emit_json({"workspace": str(ws.root), "default_project": ws.default_project})
    else:
        console.print(f"workspace ready at [bold]{ws.root}[/] (project {ws.default_project})")
    ws.close()


def workspace_info(ws: Workspace, project: str | None = None, days: int = 31) -> dict[str, Any]:
    """Counts by source, channel, type and day; the numbers ``cxlens info`` shows."""

    def run(rel: Any) -> dict[str, Any]:
        from cxlens.journeys.sessions import sessionize

        con = ws.con
        # channels are counted GA4-style: internal navigation and server events count for
        # the channel that brought the session
        projects = [project] if project else ws.projects()
        if len(projects) == 1:  # persons as identity resolved them (ids until it has run)
            from cxlens.identity import with_person

            rel = with_person(ws, rel, projects[0])
        else:
            rel = rel.query("_r", "SELECT *, coalesce(user_id, anonymous_id) AS person_id FROM _r")
        con.register("_info_events", sessionize(rel, ws.session_timeout_minutes))
        try:
            total, persons, ids, first, last = con.execute(
                "SELECT count(*), count(DISTINCT person_id), count(DISTINCT coalesce(user_id, anonymous_id)),"
                " min(timestamp)::VARCHAR, max(timestamp)::VARCHAR FROM _info_events"
            ).fetchall()[0]

            def counts(expr: str, order: str = "n DESC, k") -> dict[str, int]:
                rows = con.execute(
                    f"SELECT coalesce(CAST({expr} AS VARCHAR), '(none)') AS k, count(*) AS n"
                    f" FROM _info_events GROUP BY ALL ORDER BY {order}"
                ).fetchall()
                return {str(k): int(n) for k, n in rows}

            by_day = con.execute(
                "SELECT date::VARCHAR, count(*) FROM _info_events GROUP BY ALL ORDER BY 1 DESC LIMIT ?",
                [days],
            ).fetchall()
            return {
                "total_events": int(total),
                "distinct_persons": int(persons),
                "distinct_ids": int(ids),
                "first_event": first,
                "last_event": last,
                "by_project": counts("project"),
                "by_source": counts("source"),
                "by_channel": counts("session_channel"),
                "by_type": counts("type"),
                "by_day": {d: int(n) for d, n in sorted(by_day)},
            }
        finally:
            con.unregister("_info_events")

    info: dict[str, Any] = ws.query(run, project)
    files = ws.event_files(project)
    info["workspace"] = str(ws.root)
    info["files"] = len(files)
    info["bytes"] = sum(f.bytes for f in files)
    info["projects"] = ws.projects()
    info["recent_batches"] = ws.catalog.batches(limit=10)
    return info


@app.command()
def info(
    project: ProjectOpt = None,
    days: Annotated[int, typer.Option(help="How many most recent days to list.")] = 14,
    json: JsonOpt = False,
) -> None:
    """What is in the workspace: events by source, channel, type and day."""
    if days < 1:
        raise ValidationError(f"--days must be at least 1, not {days}", field="days")
    ws = open_workspace()
    try:
        check_known_project(ws, project)
        data = workspace_info(ws, project, days)
    finally:
        ws.close()
    if json:
        emit_json(data)
        return
    if not data["total_events"]:
        # four empty tables told a new user nothing
        where = f"project {project}" if project else f"the workspace {data['workspace']}"
        console.print(f"no events in {where} yet; add some with: cxlens simulate --customers 2000 "
                      "(demo data), cxlens import FILE (docs/importing.md) or cxlens serve "
                      "(the collector, docs/collector.md)", highlight=False)
        return
    console.print(
        f"[bold]{data['total_events']:,}[/] events from [bold]{data['distinct_persons']:,}[/] "
        f"persons ({data['distinct_ids']:,} ids) in {data['files']} files ({data['bytes'] / 1e6:,.1f} MB), "
        f"{data['first_event'] or '-'} .. {data['last_event'] or '-'}"
    )
    for title in ("by_source", "by_channel", "by_type", "by_day"):
        table = Table(title=title.replace("_", " "), title_justify="left")
        table.add_column(title.split("_", 1)[1])
        table.add_column("events", justify="right")
        for key, n in data[title].items():
            table.add_row(key, f"{n:,}")
        console.print(table)


@app.command()
def compact(
    project: ProjectOpt = None,
    sequences: Annotated[bool, typer.Option(
        "--sequences/--no-sequences",
        help="Then build each project's sequence cache for fast journey analyses.")] = True,
    json: JsonOpt = False,
) -> None:
    """Merge small files and sort each partition by person and time (safe while others read)."""
    from cxlens.engines import sequences as seq

    ws = open_workspace()
    check_known_project(ws, project)
    res = ws.compact(project)
    built: list[dict[str, Any]] = []
    if sequences:
        for name in [project] if project else ws.projects():
            try:
                built.append(seq.build(ws, name))
            except seq.SequenceCacheError as exc:
                built.append({"project": name, "built": False, "error": str(exc)})
    ws.close()
    doc = {"partitions": res.partitions, "files_before": res.files_before,
           "files_after": res.files_after, "rows": res.rows, "sequences": built}
    if json:
        emit_json(doc)
    else:
        console.print(
            f"compacted {res.partitions} partitions: {res.files_before} files -> "
            f"{res.files_after}, {res.rows:,} events"
        )
        for b in built:
            if b.get("built"):
                console.print(f"sequence cache of {b['project']}: {b['rows']:,} events, "
                              f"{b['seconds']:.1f} s")
