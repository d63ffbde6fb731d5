"""``cxlens demo``: realistic shop data in a fresh workspace, then the server."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, app, console, emit_json
from cxlens.commands.core import workspace_info
from cxlens.errors import ConfigError, WorkspaceError
from cxlens.store.workspace import CATALOG_NAME, Workspace


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where to put the demo workspace.")] = Path(
        "demo-workspace"
    ),
    customers: Annotated[int, typer.Option(help="Simulated customers.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Port for the server.")] = 8000,
    json: JsonOpt = False,
) -> None:
    """Simulate a German online shop into a fresh workspace and show what is in it."""
    from cxlens.simulate import simulate
    from cxlens.web.auth import DEMO_USER, ensure_demo_user, get_user

    fresh = not (directory / CATALOG_NAME).exists()
    # mistakes first: a rerun takes an existing demo workspace as done
    if fresh and customers < 1:
        raise ConfigError("--customers must be at least 1", field="customers")
    if fresh and seed < 0:
        raise ConfigError(f"--seed must be 0 or more, not {seed}", field="seed")
    can_serve = serve and importlib.util.find_spec("cxlens.commands.serve") is not None
    if can_serve:  # not after minutes of simulating
        from cxlens.commands.serve import check_listen

        check_listen("127.0.0.1", port)
    ws = Workspace.init(directory, project="shop")
    if not fresh and get_user(ws.catalog, DEMO_USER) is None:
        # the demo's login has a published password: never into someone's real workspace
        root = ws.root
        ws.close()
        raise WorkspaceError(f"{root} is a workspace cxlens demo did not make; pass --dir with a new "
                             "directory (the demo adds a login whose password is printed)")
    login = ensure_demo_user(ws.catalog, "shop")
    if fresh:
        if not json:
            console.print(f"simulating {customers:,} shop customers into [bold]{ws.root}[/] ...")
        report = simulate(ws, business="shop", customers=customers, seed=seed, project="shop")
        ws.compact()
        from cxlens.identity.freshness import refresh

        refresh(ws, "shop")  # the dashboard counts resolved persons from the first page
        if not json:
            console.print(
                f"  {report.events:,} events, {report.feedback:,} feedback answers in "
                f"{report.seconds:.1f} s"
            )
    info = workspace_info(ws, "shop", days=7)
    ws.close()
    if json:
        emit_json(info)
    else:
        console.print(
            f"[bold]{info['total_events']:,}[/] events, {info['distinct_persons']:,} ids; "
            f"top channels: "
            + ", ".join(f"{k} {v:,}" for k, v in list(info["by_channel"].items())[:5])
        )
        console.print(f"try: cxlens -w {ws.root} info")
    if serve and not json:
        console.print(f"dashboard: http://127.0.0.1:{port}/  login: {login[0]} / {login[1]}",
                      highlight=False)
    if can_serve:
        from cxlens.commands import serve as serve_module

        serve_module.serve(workspace=ws.root, host="127.0.0.1", port=port, workers=1)
