"""``cxlens voice sentiment|analyze|topics|scores|adapt`` and ``cxlens feedback import``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace

voice_app = typer.Typer(help="Voice of the customer: sentiment, aspects, scores.", no_args_is_help=True)
feedback_app = typer.Typer(help="Feedback rows: reviews, tickets, NPS answers.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")
app.add_typer(feedback_app, name="feedback")

LangOpt = Annotated[str | None, typer.Option("--language", "-l", help="de or en; detected when left out.")]


@voice_app.command("sentiment")
def sentiment_cmd(text: Annotated[str, typer.Argument(help="The text.")], language: LangOpt = None,
                  json: JsonOpt = False) -> None:
    """Sentiment and language of one text (no workspace needed)."""
    from cxlens.voice import sentiment
    from cxlens.voice.aspects import seed_mentions
    from cxlens.voice.text import tokens

    s = sentiment(text, language)
    aspects = sorted({m.aspect for m in seed_mentions(tokens(text))})
    if json:
        emit_json({**s.to_dict(), "aspects": aspects})
        return
    console.print(f"{s.label} (score {s.score:+.2f}, confidence {s.confidence:.2f}, language {s.language})"
                  + (f", aspects: {', '.join(aspects)}" if aspects else ""), highlight=False)


@voice_app.command("analyze")
def analyze_cmd(project: ProjectOpt = None, no_alerts: Annotated[bool, typer.Option("--no-alerts")] = False,
                json: JsonOpt = False) -> None:
    """Analyse every feedback text of a project into tables/feedback_analysis/."""
    from cxlens.voice.workspace import analyze_project

    ws = open_workspace()
    try:
        res = analyze_project(ws, project or ws.default_project, send_alerts=not no_alerts)
    finally:
        ws.close()
    if json:
        emit_json(asdict(res))
        return
    console.print(f"{res.texts:,} texts in {res.seconds:.1f} s: {res.negative:,} negative, {res.neutral:,} neutral, "
                  f"{res.positive:,} positive{' (adapted model)' if res.adapted else ''}; "
                  f"{res.alerts} alerts sent", highlight=False)


@voice_app.command("topics")
def topics_cmd(project: ProjectOpt = None,
               language: Annotated[str, typer.Option("--language", "-l", help="Language of the summary: de or en.")] = "de",
               json: JsonOpt = False) -> None:
    """What customers praise and criticise, per touchpoint."""
    from cxlens.errors import ValidationError
    from cxlens.voice.workspace import project_topics

    if language not in ("de", "en"):
        raise ValidationError(f"--language {language!r}: use de or en")
    ws = open_workspace()
    try:
        rep = project_topics(ws, project or ws.default_project, language)
    finally:
        ws.close()
    if json:
        emit_json([t.to_dict() for t in rep])
        return
    for t in rep:
        console.print(f"[bold]{t.touchpoint}[/] ({t.texts:,} texts): {t.summary}", highlight=False)
        for a in t.aspects[:8]:
            flag = " (discovered)" if a.discovered else ""
            console.print(f"  {a.name}{flag}: {a.mentions} mentions, +{a.positive} / -{a.negative}", highlight=False)


@voice_app.command("scores")
def scores_cmd(project: ProjectOpt = None,
               by: Annotated[str, typer.Option("--by", help="touchpoint, channel, stage, source, kind, month, week, persona or all.")] = "touchpoint",
               language: Annotated[str, typer.Option("--language", "-l", help="Persona names: de or en.")] = "en",
               json: JsonOpt = False) -> None:
    """NPS, CSAT, CES and custom scale questions with 95 % confidence intervals."""
    from cxlens.voice.scores import scores

    ws = open_workspace()
    try:
        res = scores(ws.con, ws.root, project or ws.default_project, by, ws=ws, lang=language)
    finally:
        ws.close()
    if json:
        emit_json([g.to_dict() for g in res])
        return
    for g in res:
        parts = []
        if g.nps:
            parts.append(f"NPS {g.nps.value:+.0f} [{g.nps.low:+.0f}, {g.nps.high:+.0f}] n={g.nps.n}")
        if g.csat:
            parts.append(f"CSAT {g.csat.value:.0f}% [{g.csat.low:.0f}, {g.csat.high:.0f}] n={g.csat.n}")
        if g.ces:
            parts.append(f"CES {g.ces.value:.2f} [{g.ces.low:.2f}, {g.ces.high:.2f}] n={g.ces.n}")
        for sc in g.scales:
            top = f" of {sc.scale_max:g}" if sc.scale_max else ""
            parts.append(f"{sc.question} {sc.mean.value:.2f}{top} [{sc.mean.low:.2f}, {sc.mean.high:.2f}] "
                         f"n={sc.mean.n}")
        console.print(f"{g.group}: " + ("; ".join(parts) or f"{g.feedback} rows without scores"), highlight=False)


@voice_app.command("adapt")
def adapt_cmd(project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Fit the sentiment model to this project's scored texts (used when [voice] adapt = true)."""
    from cxlens.voice.workspace import adapt_enabled, adapt_project

    ws = open_workspace()
    try:
        rep = adapt_project(ws, project or ws.default_project)
        enabled = adapt_enabled(ws)
    finally:
        ws.close()
    if json:
        emit_json({**rep.to_dict(), "enabled": enabled})
        return
    console.print(f"adapter from {rep.train:,} scored texts; held-out {rep.holdout:,}: macro-F1 "
                  f"{rep.macro_f1_before:.3f} -> {rep.macro_f1_after:.3f}, accuracy {rep.accuracy_before:.3f} -> "
                  f"{rep.accuracy_after:.3f}", highlight=False)
    if not enabled:
        console.print("not in use yet: set \\[voice] adapt = true in cxlens.toml")


@feedback_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV, JSON or JSON Lines export.")],
    format: Annotated[str, typer.Option("--format", "-f", help="reviews, tickets, zendesk or nps.")],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="TOML with [fields] and [defaults].")] = None,
    project: ProjectOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Import nothing if any row is bad.")] = False,
    json: JsonOpt = False,
) -> None:
    """Import reviews, tickets, a Zendesk export or another tool's NPS export."""
    from cxlens.voice.feedback_import import import_feedback

    ws = open_workspace()
    try:
        rep = import_feedback(ws, file, format, mapping=mapping, project=project, strict=strict)
    finally:
        ws.close()
    if json:
        emit_json(asdict(rep))
        return
    console.print(f"{rep.inserted:,} feedback rows imported into {rep.project} ({rep.duplicates:,} already there, "
                  f"{rep.rejected:,} rejected{': ' + rep.rejects_file if rep.rejects_file else ''})", highlight=False)
