"""``cxlens simulate``: seeded synthetic journeys with a ground truth."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, err_console, workspace_path
from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace


@app.command()
def simulate(
    business: Annotated[str, typer.Option(help="shop (B2C) or b2b.")] = "shop",
    customers: Annotated[int, typer.Option(help="Number of persons to simulate.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 0,
    project: ProjectOpt = None,
    days: Annotated[int, typer.Option(help="Length of the simulated period in days.")] = 180,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD (default 2025-01-06).")] = None,
    json: JsonOpt = False,
) -> None:
    """Simulate customer journeys of a B2C shop or a B2B supplier into the workspace."""
    from dataclasses import asdict

    from cxlens.simulate import simulate as run

    if business not in ("shop", "b2b"):
        raise ConfigError(f"unknown --business {business!r}; use shop or b2b", field="business")
    first: dt.date | None = None
    if start is not None:
        try:
            first = dt.date.fromisoformat(start)
        except ValueError:
            raise ConfigError(f"--start {start!r} is not a date; use YYYY-MM-DD", field="start") from None
    ws = Workspace.init(workspace_path(), project=project or business)

    def progress(done: int, total: int) -> None:
        # on stderr, so that --json output stays a single document on stdout
        err_console.print(f"simulated {done:,} / {total:,} persons", highlight=False)

    try:
        report = run(ws, business="shop" if business == "shop" else "b2b", customers=customers,
                     seed=seed, project=project, start=first, days=days,
                     progress=progress if customers > 50_000 else None)
    finally:
        ws.close()
    if json:
        emit_json(asdict(report))
    else:
        console.print(
            f"simulated {report.customers:,} {business} customers: {report.events:,} events, "
            f"{report.orders:,} orders, {report.feedback:,} feedback rows in {report.seconds:.1f} s "
            f"({report.events_per_second:,.0f} events/s); ground truth in {report.ground_truth_dir}"
        )
