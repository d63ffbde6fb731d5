"""``cxlens project create|list|settings``: projects and their collector keys."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.table import Table

from cxlens.cli import JsonOpt, app, console, emit_json, open_workspace
from cxlens.errors import ValidationError
from cxlens.store.keys import create_project, list_projects, set_settings

project_app = typer.Typer(help="Projects and their write/secret keys.", no_args_is_help=True)
app.add_typer(project_app, name="project")


@project_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Project name (lower-case letters, digits, - _).")],
    json: JsonOpt = False,
) -> None:
    """Create a project and print its keys (the secret key is shown only this once)."""
    ws = open_workspace()
    try:
        keys = create_project(ws.catalog, name)
    finally:
        ws.close()
    doc = {"project": keys.project, "write_key": keys.write_key, "secret_key": keys.secret_key}
    if json:
        emit_json(doc)
        return
    console.print(f"project [bold]{keys.project}[/] created")
    console.print(f"write key  (ingest only): {keys.write_key}")
    console.print(f"secret key (reads; shown once, store it now): {keys.secret_key}")


@project_app.command("list")
def list_(json: JsonOpt = False) -> None:
    """List projects with their write keys and settings."""
    ws = open_workspace()
    try:
        projects = list_projects(ws.catalog)
    finally:
        ws.close()
    docs = [{"project": p.project, "write_key": p.write_key, "created_at": p.created_at,
             "settings": p.settings} for p in projects]
    if json:
        emit_json(docs)
        return
    table = Table(title="projects", title_justify="left")
    for col in ("project", "write key", "settings"):
        table.add_column(col)
    for d in docs:
        table.add_row(str(d["project"]), str(d["write_key"] or "-"),
                      orjson.dumps(d["settings"]).decode())
    console.print(table)


@project_app.command("settings")
def settings(
    name: Annotated[str, typer.Argument(help="Project name.")],
    value: Annotated[str, typer.Argument(help='Settings JSON, e.g. \'{"privacy": {"honor_dnt": true}}\'')],
    json: JsonOpt = False,
) -> None:
    """Replace a project's settings (privacy: anonymize_ip, drop_ip, honor_dnt, pseudonymise, pseudonym_secret, retention_days)."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValidationError(f"settings are not valid JSON: {exc}", field="settings") from None
    if not isinstance(parsed, dict):
        raise ValidationError("settings must be a JSON object", field="settings")
    ws = open_workspace()
    try:
        set_settings(ws.catalog, name, parsed)
    finally:
        ws.close()
    if json:
        emit_json({"project": name, "settings": parsed})
    else:
        console.print(f"settings of [bold]{name}[/] updated")
