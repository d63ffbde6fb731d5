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
LevelOpt = Annotated[str, typer.Option("--level", help="person, or account: B2B buying centres as one unit.")]


def _check_lang(lang: str) -> None:
    from cxlens.errors import ValidationError

    if lang not in ("de", "en"):
        raise ValidationError(f"--lang {lang!r}: use de or en")


def _check_level(level: str) -> None:
    from cxlens.personas.store import check_level

    check_level(level)


def _show(project: str | None, lang: str, json: bool, level: str = "person") -> None:
    from cxlens.personas.runs import load_run

    _check_lang(lang)
    _check_level(level)
    ws = open_workspace()
    try:
        run = load_run(ws, project, level=level)
    finally:
        ws.close()
    if json:
        emit_json(run.to_dict())
        return
    unit = "accounts" if run.level == "account" else "persons"
    console.print(f"run {run.run_id} (seed {run.seed}): {run.k} personas, {run.persons:,} {unit}, "
                  f"{run.unassigned:,} unassigned", highlight=False)
    drift = {d.persona: d for d in run.drift}
    for p in run.personas:
        change = drift.get(p.index)
        note = f" [{change.kind}{' ' + str(list(change.previous)) if change.previous else ''}]" if change else ""
        console.print(f"[bold]{p.index}. {p.name(lang)}[/]{note}: {p.size:,} ({p.share:.0%}), "
                      f"revenue {p.revenue_share:.0%}", highlight=False)
        console.print(f"   {p.description(lang)}", highlight=False)


@personas_app.callback()
def personas_root(ctx: typer.Context, project: ProjectOpt = None, lang: LangOpt = "de", json: JsonOpt = False,
                  level: LevelOpt = "person") -> None:
    """Without a subcommand: the latest run's personas (same as ``list``)."""
    if ctx.invoked_subcommand is None:
        _show(project, lang, json, level)


@personas_app.command("list")
def list_cmd(project: ProjectOpt = None, lang: LangOpt = "de", json: JsonOpt = False,
             level: LevelOpt = "person") -> None:
    """The latest run's personas: size, revenue share, name, description, drift."""
    _show(project, lang, json, level)


@personas_app.command("discover")
def discover_cmd(project: ProjectOpt = None, seed: Annotated[int, typer.Option("--seed")] = 0,
                 lang: LangOpt = "de", json: JsonOpt = False, level: LevelOpt = "person") -> None:
    """Cluster persons (or accounts) by behaviour into personas (number chosen automatically) and store the run."""
    from cxlens.personas.runs import run_discovery

    _check_lang(lang)
    _check_level(level)
    ws = open_workspace()
    try:
        run_discovery(ws, project, seed, level)
    finally:
        ws.close()
    _show(project, lang, json, level)


@personas_app.command("assign")
def assign_cmd(project: ProjectOpt = None, json: JsonOpt = False, level: LevelOpt = "person") -> None:
    """Assign all persons (new ones included) with the latest run's model, without re-clustering."""
    from cxlens.personas.runs import assign_persons

    _check_level(level)
    ws = open_workspace()
    try:
        res = assign_persons(ws, project, level=level)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    counts = ", ".join(f"{'unassigned' if k < 0 else k}: {v:,}" for k, v in sorted(res.counts.items()))
    console.print(f"run {res.run_id}: {res.persons:,} persons ({res.new_persons:,} new); {counts}", highlight=False)


@personas_app.command("stability")
def stability_cmd(project: ProjectOpt = None, seeds: Annotated[int, typer.Option(
        "--seeds", help="How many seeds (0..N-1) to compare.")] = 3, json: JsonOpt = False,
                  level: LevelOpt = "person") -> None:
    """Discover with several seeds (nothing stored): k per seed and agreement with seed 0."""
    from cxlens.errors import ValidationError
    from cxlens.personas.runs import check_stability

    _check_level(level)
    if not 1 <= seeds <= 20:
        raise ValidationError(f"--seeds {seeds}: use 1 to 20", field="seeds")
    ws = open_workspace()
    try:
        res = check_stability(ws, project, tuple(range(seeds)), level)
    finally:
        ws.close()
    if json:
        emit_json({**asdict(res), "min_ari": res.min_ari})
        return
    console.print(f"same seed twice: {'identical' if res.same_seed_identical else 'DIFFERENT'}", highlight=False)
    for s in res.seeds:
        console.print(f"seed {s}: k = {res.k[s]}, ARI vs seed {res.seeds[0]} = {res.ari[s]:.3f}", highlight=False)
