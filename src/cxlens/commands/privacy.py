"""``cxlens privacy consent|export|erase|retention``: data-protection requests."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace

privacy_app = typer.Typer(help="Consent, right of access, erasure and retention.", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")

IdArg = Annotated[str, typer.Argument(help="Any id of the person (user id, e-mail, anonymous id) or its person_id.")]


@privacy_app.command("consent")
def consent_cmd(id_: IdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """The person's current consent per purpose, with time and source."""
    from cxlens.privacy.consent import consent_state

    ws = open_workspace()
    try:
        st = consent_state(ws, project, id_)
    finally:
        ws.close()
    if json:
        emit_json(asdict(st))
        return
    console.print(f"person {st.person_id}")
    for p in st.purposes.values():
        console.print(f"  {p.purpose}: {p.state} since {p.at} ({p.source})", highlight=False)
    if not st.purposes:
        console.print("  no consent recorded")


@privacy_app.command("export")
def export_cmd(
    id_: IdArg,
    out: Annotated[Path, typer.Option("--out", help="The ZIP file to write.")],
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Right of access: all ids, events, traits, consent and feedback as JSON in a ZIP."""
    from cxlens.privacy.export import export

    ws = open_workspace()
    try:
        res = export(ws, project, id_, out)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    console.print(f"wrote {res.path}: {res.ids} ids, {res.events:,} events, {res.feedback} feedback rows")


@privacy_app.command("erase")
def erase_cmd(id_: IdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Right to erasure: remove the person from every file of the workspace."""
    from cxlens.privacy.erase import erase

    ws = open_workspace()
    try:
        res = erase(ws, project, id_)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
    else:
        console.print(f"erased {res.ids} ids: {sum(res.rows_removed.values()):,} rows removed from "
                      f"{res.files_rewritten} files ({res.rows_removed}); audit {res.subject_hash[:12]}")
    if res.leftovers:
        from cxlens.errors import CxError

        raise CxError(f"erasure incomplete: {len(res.leftovers)} files still name the person "
                      f"({', '.join(res.leftovers[:3])}); stop writers to them and run erase again")


@privacy_app.command("retention")
def retention_cmd(
    days: Annotated[int | None, typer.Option(help="Keep this many days (default: [privacy] retention_days).")] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Delete events older than the retention period."""
    from cxlens.privacy.retention import retention

    ws = open_workspace()
    try:
        res = retention(ws, project, days)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    console.print(f"deleted {res.events_deleted:,} events of {res.partitions} days before {res.cutoff}")
