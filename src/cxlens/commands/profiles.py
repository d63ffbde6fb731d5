"""``cxlens identity resolve``, ``cxlens profile show|explain|unlink``, ``cxlens account show``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace

identity_app = typer.Typer(help="Identity resolution: who is who.", no_args_is_help=True)
profile_app = typer.Typer(help="Person profiles: traits, ids, links.", no_args_is_help=True)
account_app = typer.Typer(help="B2B accounts: firmographics and buying centre.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")
app.add_typer(profile_app, name="profile")
app.add_typer(account_app, name="account")

IdArg = Annotated[str, typer.Argument(help="Any id of the person (user id, anonymous id, e-mail, ...) or its person_id.")]


@identity_app.command("resolve")
def resolve_cmd(
    project: ProjectOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Recompute every person (after changing rules).")] = False,
    profiles: Annotated[bool, typer.Option("--profiles/--no-profiles", help="Rebuild the profiles table too.")] = True,
    json: JsonOpt = False,
) -> None:
    """Link ids from identify, alias, events and shared identifiers into persons."""
    from cxlens.identity.freshness import resolve_and_mark

    ws = open_workspace()
    try:
        res, rows = resolve_and_mark(ws, project, full=full, profiles=profiles)
    finally:
        ws.close()
    doc = {**asdict(res), "profile_rows": rows}
    if json:
        emit_json(doc)
        return
    console.print(
        f"{res.project}: {res.ids:,} ids -> {res.persons:,} persons; {res.links_new:,} new links "
        f"({res.links_flagged:,} over a cap, kept but not merged), {res.affected_persons:,} persons "
        f"updated in {res.seconds:.2f} s"
    )


@profile_app.command("explain")
def explain_cmd(id_: IdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """The chain of links that joined the person, with source and time of each."""
    from cxlens.identity import explain

    ws = open_workspace()
    try:
        ex = explain(ws, project, id_)
    finally:
        ws.close()
    if json:
        emit_json(asdict(ex))
        return
    console.print(f"person [bold]{ex.person_id}[/] ({len(ex.ids)} ids)")
    for ln in ex.links:
        mark = " [red]removed[/]" if ln.removed else (" [yellow]flagged (over cap)[/]" if ln.flagged else "")
        console.print(f"  {ln.linked_at}  {ln.id_type_a}={ln.id_a} -- {ln.id_type_b}={ln.id_b}"
                      f"  via {ln.link_source} (event {ln.event_id}){mark}", highlight=False)


@profile_app.command("unlink")
def unlink_cmd(
    id_a: Annotated[str, typer.Argument(help="One id of the wrong link.")],
    id_b: Annotated[str, typer.Argument(help="The other id.")],
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Undo a wrong link: it is marked removed and the person splits back."""
    from cxlens.identity import unlink
    from cxlens.identity.profiles import build_profiles

    ws = open_workspace()
    try:
        res = unlink(ws, project, id_a, id_b)
        build_profiles(ws, res.project)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    console.print(f"removed {res.removed_links} link(s); {res.persons_before[0]} is now "
                  f"{', '.join(res.persons_after)}")


@profile_app.command("show")
def show_cmd(id_: IdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Traits, computed traits, ids and a timeline summary of a person."""
    from cxlens.identity.profiles import profile

    ws = open_workspace()
    try:
        p = profile(ws, project, id_)
    finally:
        ws.close()
    if json:
        emit_json(asdict(p))
        return
    console.print(f"person [bold]{p.person_id}[/]")
    console.print("ids: " + ", ".join(f"{i['id_type']}={i['id']}" for i in p.ids), highlight=False)
    for k, v in p.traits.items():
        console.print(f"  {k}: {v}  [dim]({p.trait_sources[k]})[/]", highlight=False)
    for k, v in p.computed.items():
        console.print(f"  {k}: {v}  [dim](computed)[/]", highlight=False)
    for t in p.timeline:
        console.print(f"  {t['first']}  {t['event']} x{t['count']} ({t['channel'] or '-'})", highlight=False)


@account_app.command("show")
def account_cmd(account_id: Annotated[str, typer.Argument(help="The account id (group id).")],
                project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Firmographics and the people of a B2B account with their roles."""
    from cxlens.identity.profiles import account

    ws = open_workspace()
    try:
        a = account(ws, project, account_id)
    finally:
        ws.close()
    if json:
        emit_json(asdict(a))
        return
    console.print(f"[bold]{a.name or a.account_id}[/]  {a.industry or '-'}, {a.size or '-'} employees,"
                  f" {a.country or '-'}")
    for m in a.members:
        console.print(f"  {m.person_id}  {m.role or '-'}  {m.title or ''}", highlight=False)
