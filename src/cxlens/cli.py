"""The ``cxlens`` command line.

Every command that prints results takes ``--json`` and then prints exactly one JSON
document on stdout. A user's mistake (a CxError) becomes one line on stderr and exit
code 2; only bugs produce tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from cxlens.errors import CxError

app = typer.Typer(
    name="cxlens",
    help="Customer-experience and customer-journey analytics over open files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="CXLENS_WORKSPACE", help="Workspace directory."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="Project name.")]


class State:
    workspace: Path | None = None


state = State()


@app.callback()
def _root(workspace: WorkspaceOpt = None) -> None:
    state.workspace = workspace


def workspace_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    if state.workspace is not None:
        return state.workspace
    env = os.environ.get("CXLENS_WORKSPACE")
    return Path(env) if env else Path.cwd()


def open_workspace(explicit: Path | None = None) -> Any:
    from cxlens.store.workspace import Workspace

    return Workspace.open(workspace_path(explicit))


def check_known_project(ws: Any, project: str | None) -> None:
    """A -p that names no project is a typo: say which projects there are instead of
    answering with zero events."""
    if project is None:
        return
    names = ws.projects()
    if project not in names:
        from cxlens.errors import ValidationError

        raise ValidationError(f"no project {project!r} in {ws.root}; its projects: "
                              f"{', '.join(names) or '(none)'}", field="project")


def emit_json(doc: Any) -> None:
    sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
    sys.stdout.write("\n")


def _register() -> None:
    # Command modules register themselves on ``app``; importing them is all it takes.
    from cxlens.commands import core  # noqa: F401

    for optional in ("imports", "simulate", "serve", "projects", "demo", "profiles", "privacy", "journeys",
                     "users", "report", "voice", "personas", "surveys"):
        try:
            __import__(f"cxlens.commands.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cxlens.commands.{optional}":
                raise


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        # without standalone mode click returns typer.Exit's code instead of exiting
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except CxError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except typer.Abort:
        err_console.print("aborted")
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as exc:
        # Usage errors (unknown option, extra argument) and exits from the CLI framework.
        # Typer vendors its own click, so match by behaviour rather than by class.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if isinstance(code, int):
            if callable(show):
                show()
            raise SystemExit(code) from None
        raise

if __name__ == "__main__":
    # ``python -m cxlens.cli`` runs this file as __main__, a second module whose ``app``
    # the command modules never see: go through the imported module instead.
    from cxlens.cli import main as _main

    _main()
