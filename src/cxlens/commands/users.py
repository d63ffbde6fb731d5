"""``cxlens user add|list|remove``: dashboard users, their role and their projects."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from cxlens.cli import JsonOpt, app, console, emit_json, open_workspace
from cxlens.errors import ValidationError

user_app = typer.Typer(help="Dashboard users (login for cxlens serve).", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    role: Annotated[str, typer.Option(help="viewer (read) or admin (also Data page, alerts).")
                    ] = "viewer",
    project: Annotated[list[str] | None, typer.Option(
        "--project", "-p", help="A project the user may see (repeat for several).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from stdin instead of prompting.")] = False,
    json: JsonOpt = False,
) -> None:
    """Create a user, or replace one (to change the password, role or projects)."""
    from cxlens.web.auth import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    ws = open_workspace()
    try:
        projects = list(project or [ws.default_project])
        user = add_user(ws.catalog, name, password, role, projects)
    finally:
        ws.close()
    doc = {"name": user.name, "role": user.role, "projects": list(user.projects)}
    if json:
        emit_json(doc)
    else:
        console.print(f"user [bold]{user.name}[/] ({user.role}) for {', '.join(user.projects)}",
                      highlight=False)


@user_app.command("list")
def list_(json: JsonOpt = False) -> None:
    """List dashboard users."""
    from cxlens.web.auth import list_users

    ws = open_workspace()
    try:
        users = list_users(ws.catalog)
    finally:
        ws.close()
    docs = [{"name": u.name, "role": u.role, "projects": list(u.projects)} for u in users]
    if json:
        emit_json(docs)
        return
    table = Table(title="users", title_justify="left")
    for col in ("name", "role", "projects"):
        table.add_column(col)
    for d in docs:
        table.add_row(str(d["name"]), str(d["role"]), ", ".join(d["projects"]))
    console.print(table)


@user_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Remove a user; their sessions stop working at the next request."""
    from cxlens.web.auth import remove_user

    ws = open_workspace()
    try:
        if not remove_user(ws.catalog, name):
            raise ValidationError(f"no user {name!r}; see: cxlens user list", field="name")
    finally:
        ws.close()
    console.print(f"user {name} removed", highlight=False)
