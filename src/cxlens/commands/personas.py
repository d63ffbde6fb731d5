"""``cxlens personas [list|discover|assign]``: behavioural personas (docs/personas.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace

personas_app = typer.Typer(help="Personas discovered from behaviour, explained in German or English.",
                           invoke_without_command=True)
app.add_typer(personas_app, name="personas")

LangOpt = Annotated[str, typer.Option("--lang", help="Language of names and descriptions: de or en.")]


def _check_lang(lang: str) -> None:
    from cxlens.errors import ValidationError

    if lang not in ("de", "en"):
        raise ValidationError(f"--lang {lang!r}: use de or en")


def _show(project: str | None, lang: str, json: bool) -> None:
    from cxlens.personas.runs import load_run

    _check_lang(lang)
    ws = open_workspace()
    try:
        run = load_run(ws, project)
    finally:
        ws.close()
    if json:
        emit_json(run.to_dict())
        return
    console.print(f"run {run.run_id}: {run.k} personas, {run.persons:,} persons, {run.unassigned:,} unassigned",
                  highlight=False)
    drift = {d.persona: d for d in run.drift}
    for p in run.personas:
        change = drift.get(p.index)
        note = f" [{change.kind}{' ' + str(list(change.previous)) if change.previous else ''}]" if change else ""
        console.print(f"[bold]{p.index}. {p.name(lang)}[/]{note}: {p.size:,} ({p.share:.0%}), "
                      f"revenue {p.revenue_share:.0%}", highlight=False)
        console.print(f"   {p.description(lang)}", highlight=False)


@personas_app.callback()
def personas_root(ctx: typer.Context, project: ProjectOpt = None, lang: LangOpt = "de", json: JsonOpt = False) -> None:
    """Without a subcommand: the latest run's personas (same as ``list``)."""
    if ctx.invoked_subcommand is None:
        _show(project, lang, json)


@personas_app.command("list")
def list_cmd(project: ProjectOpt = None, lang: LangOpt = "de", json: JsonOpt = False) -> None:
    """The latest run's personas: size, revenue share, name, description, drift."""
    _show(project, lang, json)


@personas_app.command("discover")
def discover_cmd(project: ProjectOpt = None, seed: Annotated[int, typer.Option("--seed")] = 0,
                 lang: LangOpt = "de", json: JsonOpt = False) -> None:
    """Cluster persons by behaviour into personas (number chosen automatically) and store the run."""
    from cxlens.personas.runs import run_discovery

    _check_lang(lang)
    ws = open_workspace()
    try:
        run_discovery(ws, project, seed)
    finally:
        ws.close()
    _show(project, lang, json)


@personas_app.command("assign")
def assign_cmd(project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Assign all persons (new ones included) with the latest run's model, without re-clustering."""
    from cxlens.personas.runs import assign_persons

    ws = open_workspace()
    try:
        res = assign_persons(ws, project)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    counts = ", ".join(f"{'unassigned' if k < 0 else k}: {v:,}" for k, v in sorted(res.counts.items()))
    console.print(f"run {res.run_id}: {res.persons:,} persons ({res.new_persons:,} new); {counts}", highlight=False)
