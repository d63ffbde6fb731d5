"""``cxlens funnel | paths | graph | retention``: journey analytics from the command line.

Specs come from flags or from a TOML/JSON file (``--spec``; flags given as well
override the file). ``--engine spark`` runs the same analysis on Spark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cxlens.cli import JsonOpt, ProjectOpt, app, console, emit_json, open_workspace
from cxlens.errors import SpecError

SpecOpt = Annotated[Path | None, typer.Option("--spec", help="Spec file (.toml or .json).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")]
JourneyOpt = Annotated[str | None, typer.Option(
    "--journey", help="Journey definition: steps are its touchpoints (<ws>/journeys/).")]
PersonBreakdownOpt = Annotated[str | None, typer.Option(
    "--breakdown", help="Per person attribute: persona, persona.id, account, account.industry, "
    "account.size, trait.<name>.")]
SinceOpt = Annotated[str | None, typer.Option(help="First day or time (ISO, UTC).")]
UntilOpt = Annotated[str | None, typer.Option(help="End (exclusive; ISO, UTC).")]


def _run(name: str, spec_file: Path | None, flags: dict[str, Any], project: str | None,
         engine_name: str) -> dict[str, Any]:
    from cxlens.journeys.analyses import read_spec_file, run_document

    doc: dict[str, Any] = read_spec_file(spec_file) if spec_file else {}
    doc.update({k: v for k, v in flags.items() if v not in (None, [], ())})
    ws = open_workspace()
    try:
        if engine_name == "duckdb":
            from cxlens.engines.local import DuckDBEngine

            return run_document(DuckDBEngine(ws, project), name, doc, ws.root)
        if engine_name == "spark":
            from cxlens.engines.spark import SparkEngine, spark_session, use_this_python_for_workers

            use_this_python_for_workers()
            return run_document(SparkEngine(spark_session(), ws, project), name, doc, ws.root)
        raise SpecError(f"unknown engine {engine_name!r}; use duckdb or spark", field="engine")
    finally:
        ws.close()


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


@app.command()
def funnel(
    step: Annotated[list[str] | None, typer.Option(
        "--step", "-s", help="A step: 'Event Name' or 'Event | key=value | total>=50'; repeat "
        "in order.")] = None,
    window: Annotated[str | None, typer.Option(help="Conversion window, e.g. 7d, 12h.")] = None,
    mode: Annotated[str | None, typer.Option(help="ordered, strict or unordered.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(
        help="Exclude attempts with this event between the first and last step.")] = None,
    breakdown: Annotated[str | None, typer.Option(
        help="channel, device, source, a property key, or a person attribute: persona, "
        "account.industry, account.size, trait.<name>.")] = None,
    journey: JourneyOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    spec: SpecOpt = None, project: ProjectOpt = None, engine: EngineOpt = "duckdb",
    json: JsonOpt = False,
) -> None:
    """Conversion through ordered steps: counts, drop-off, time to convert, breakdown."""
    steps: list[Any] | None = step
    if journey and step:
        # with a journey, a step names a touchpoint ("Checkout") unless it is an event
        steps = [{"touchpoint": s} for s in step]
    flags = {"journey": journey, "steps": steps, "window": window, "mode": mode, "breakdown": breakdown,
             "since": since, "until": until,
             "exclusions": [{"event": e} for e in exclude or []]}
    doc = _run("funnel", spec, flags, project, engine)
    if json:
        emit_json(doc)
        return
    table = Table(title=f"funnel ({doc['mode']}, window {_dur(doc['window_seconds'])})",
                  title_justify="left")
    for col in ("step", "event", "persons", "conversion", "from previous", "dropped",
                "median time"):
        table.add_column(col, justify="right" if col not in ("event",) else "left")
    for s in doc["steps"]:
        table.add_row(str(s["step"]), s["name"], f"{s['persons']:,}", _pct(s["conversion"]),
                      _pct(s["from_previous"]), f"{s['dropped']:,}",
                      _dur(s["median_seconds_from_previous"]))
    console.print(table)
    ttc = doc["time_to_convert"]
    console.print(f"converted: {ttc['converted']:,}; time to convert median "
                  f"{_dur(ttc['median_seconds'])}, p90 {_dur(ttc['p90_seconds'])}")
    if doc["breakdown"]:
        bt = Table(title=f"by {breakdown or 'breakdown'}", title_justify="left")
        bt.add_column("value")
        for s in doc["steps"]:
            bt.add_column(f"{s['step']}", justify="right")
        for value, steps in doc["breakdown"].items():
            bt.add_row(value, *(f"{s['persons']:,}" for s in steps))
        console.print(bt)


@app.command()
def paths(
    start: Annotated[str | None, typer.Option("--from", help="Paths starting at this event.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Paths ending at this event.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Steps per path (2-50).")] = None,
    across_sessions: Annotated[bool, typer.Option(
        help="One path per person instead of per session.")] = False,
    top: Annotated[int | None, typer.Option(help="How many paths to list.")] = None,
    breakdown: PersonBreakdownOpt = None,
    journey: JourneyOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    spec: SpecOpt = None, project: ProjectOpt = None, engine: EngineOpt = "duckdb",
    json: JsonOpt = False,
) -> None:
    """Most frequent paths from or to an event, with Sankey nodes and links (--json)."""
    flags = {"journey": journey, "start": start, "end": end, "max_steps": max_steps, "top": top,
             "per_session": False if across_sessions else None, "since": since,
             "until": until, "breakdown": breakdown}
    doc = _run("paths", spec, flags, project, engine)
    if json:
        emit_json(doc)
        return
    table = Table(title=f"top paths ({doc['paths']:,} paths of {doc['persons']:,} persons)",
                  title_justify="left")
    for col in ("path", "count", "persons", "share of persons"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for row in doc["top"]:
        table.add_row(" → ".join(row["steps"]), f"{row['count']:,}", f"{row['persons']:,}",
                      _pct(row["share_of_persons"]))
    console.print(table)
    _print_breakdown(doc, "top path", lambda d: " → ".join(d["top"][0]["steps"])
                     if d["top"] else "-")


def _print_breakdown(doc: dict[str, Any], what: str, headline: Any) -> None:
    """Per breakdown value: persons and the value's headline figure."""
    if "breakdown" not in doc:
        return
    bt = Table(title="breakdown", title_justify="left")
    for col in ("value", "persons", what):
        bt.add_column(col, justify="right" if col == "persons" else "left")
    for value, d in doc["breakdown"].items():
        persons = d.get("persons", d.get("traces", sum(c["persons"] for c in d.get("cohorts", []))))
        bt.add_row(value, f"{persons:,}", str(headline(d)))
    console.print(bt)


@app.command()
def graph(
    where: Annotated[list[str] | None, typer.Option(
        help="Segment filter, e.g. channel=email, device=mobile; repeatable.")] = None,
    per_session: Annotated[bool, typer.Option(help="One trace per session.")] = False,
    variants: Annotated[int | None, typer.Option(help="How many variants to list.")] = None,
    breakdown: PersonBreakdownOpt = None,
    designed: Annotated[str | None, typer.Option(
        help="Designed journey to check conformance: 'A,B,C'.")] = None,
    export: Annotated[Path | None, typer.Option(
        help="Write the event log: .xes, .xes.gz or .csv (pm4py opens them).")] = None,
    journey: JourneyOpt = None, since: SinceOpt = None, until: UntilOpt = None,
    spec: SpecOpt = None, project: ProjectOpt = None, engine: EngineOpt = "duckdb",
    json: JsonOpt = False,
) -> None:
    """Directly-follows graph with transition times, variants and conformance."""
    flags = {"journey": journey, "where": where, "per_session": per_session or None, "top_variants": variants,
             "designed": [s.strip() for s in designed.split(",")] if designed else None,
             "since": since, "until": until, "breakdown": breakdown}
    doc = _run("graph", spec, flags, project, engine)
    if export is not None:
        _export(export, spec, flags, project)
    if json:
        emit_json(doc)
        return
    table = Table(title=f"directly-follows graph ({doc['traces']:,} traces)",
                  title_justify="left")
    for col in ("from", "to", "count", "persons", "median", "p90"):
        table.add_column(col, justify="left" if col in ("from", "to") else "right")
    for e in doc["edges"][:30]:
        table.add_row(e["source"], e["target"], f"{e['count']:,}", f"{e['persons']:,}",
                      _dur(e["median_seconds"]), _dur(e["p90_seconds"]))
    console.print(table)
    vt = Table(title="variants", title_justify="left")
    for col in ("variant", "count", "share"):
        vt.add_column(col)
    for v in doc["variants"]:
        vt.add_row(" → ".join(v["steps"][:12]) + (" …" if len(v["steps"]) > 12 else ""),
                   f"{v['count']:,}", _pct(v["share"]))
    console.print(vt)
    if "conformance" in doc:
        c = doc["conformance"]
        console.print(f"conformance: {c['conforming']:,} of {c['traces']:,} traces "
                      f"({_pct(c['share'])}) follow {' → '.join(c['designed'])} to the end; "
                      f"{c['on_track']:,} have not deviated so far")
        for d in c["deviations"][:10]:
            console.print(f"  {d['kind']} at {d['at']}: {d['traces']:,}")
    _print_breakdown(doc, "most frequent variant", lambda d: " → ".join(
        d["variants"][0]["steps"][:8]) if d["variants"] else "-")


def _export(path: Path, spec_file: Path | None, flags: dict[str, Any],
            project: str | None) -> None:
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys.analyses import read_spec_file
    from cxlens.journeys.graph import event_log, spec_from_dict, write_csv, write_xes

    doc: dict[str, Any] = read_spec_file(spec_file) if spec_file else {}
    doc.update({k: v for k, v in flags.items() if v not in (None, [], ())})
    ws = open_workspace()
    try:
        log = event_log(DuckDBEngine(ws, project), spec_from_dict(doc))
    finally:
        ws.close()
    if path.name.endswith((".xes", ".xes.gz")):
        write_xes(log, path)
    elif path.suffix == ".csv":
        write_csv(log, path)
    else:
        raise SpecError(f"export to .xes, .xes.gz or .csv, not {path.name}", field="export")


@app.command()
def retention(
    period: Annotated[str | None, typer.Option(help="day, week or month.")] = None,
    first: Annotated[str | None, typer.Option(help="Cohort event (default: any).")] = None,
    returning: Annotated[str | None, typer.Option(
        "--return", help="Return event (default: any).")] = None,
    periods: Annotated[int | None, typer.Option(help="Periods to show.")] = None,
    breakdown: PersonBreakdownOpt = None,
    since: SinceOpt = None, until: UntilOpt = None,
    spec: SpecOpt = None, project: ProjectOpt = None, engine: EngineOpt = "duckdb",
    json: JsonOpt = False,
) -> None:
    """Cohort retention by first touch, lifecycle and repeat-purchase rate."""
    flags = {"period": period, "first": first, "returning": returning, "periods": periods,
             "since": since, "until": until, "breakdown": breakdown}
    doc = _run("retention", spec, flags, project, engine)
    if json:
        emit_json(doc)
        return
    cohorts = doc["cohorts"]
    width = max((len(c["retained"]) for c in cohorts), default=0)
    table = Table(title=f"retention by {doc['period']}", title_justify="left")
    table.add_column("cohort")
    table.add_column("persons", justify="right")
    for k in range(width):
        table.add_column(f"+{k}", justify="right")
    for c in cohorts:
        table.add_row(c["start"], f"{c['persons']:,}", *(_pct(r) for r in c["rates"]))
    console.print(table)
    console.print(f"repeat-purchase rate: {_pct(doc['repeat_purchase_rate'])} "
                  f"({doc['repeat_buyers']:,} of {doc['buyers']:,} buyers)")
    _print_breakdown(doc, "retained after 1 period", lambda d: _pct(
        sum(c["retained"][1] for c in d["cohorts"] if len(c["retained"]) > 1)
        / max(sum(c["persons"] for c in d["cohorts"]), 1)))


journey_app = typer.Typer(help="Journey definitions: touchpoints, stages, suggestions.",
                          no_args_is_help=True)
app.add_typer(journey_app, name="journey")
JourneyArg = Annotated[str, typer.Argument(help="Definition name (<ws>/journeys/<name>.toml).")]


@journey_app.command("init")
def journey_init(
    name: JourneyArg,
    from_: Annotated[str, typer.Option("--from", help="Shipped default: b2c or b2b.")] = "b2c",
    json: JsonOpt = False,
) -> None:
    """Copy a shipped journey definition into the workspace to edit it."""
    from cxlens.journeys.touchpoints import EXAMPLES, definition_path, load_definition

    source = EXAMPLES / f"{from_}.toml"
    if not source.exists():
        raise SpecError(f"no shipped journey {from_!r}; use b2c or b2b", field="from")
    ws = open_workspace()
    try:
        path = definition_path(ws.root, name)
    finally:
        ws.close()
    if path.exists():
        raise SpecError(f"{path} exists already; edit it (and raise its version)",
                        field="journey")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    text = text.replace(f'name = "{from_}"', f'name = "{name}"', 1)
    path.write_text(text, encoding="utf-8")
    definition = load_definition(path)
    if json:
        emit_json({"path": str(path), "name": definition.name, "version": definition.version})
    else:
        console.print(f"wrote {path} ({len(definition.touchpoints)} touchpoints, "
                      f"stages {' → '.join(definition.stages)})")


@journey_app.command("stages")
def journey_stages(
    name: JourneyArg, project: ProjectOpt = None, json: JsonOpt = False,
) -> None:
    """Where persons are now: current stage, persons who reached each, time in stage."""
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys.stages import StagesSpec, stages
    from cxlens.journeys.touchpoints import workspace_definition

    ws = open_workspace()
    try:
        definition = workspace_definition(ws.root, name)
        doc = stages(DuckDBEngine(ws, project), StagesSpec(definition)).to_dict()
    finally:
        ws.close()
    if json:
        emit_json(doc)
        return
    table = Table(title=f"journey {doc['journey']} v{doc['version']}: {doc['persons']:,} "
                  f"persons, as of {doc['as_of'][:16]}", title_justify="left")
    for col in ("stage", "now in stage", "ever reached", "median days in stage"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in doc["stages"]:
        med = s["median_days_in_stage"]
        table.add_row(s["stage"], f"{s['current']:,}", f"{s['reached']:,}",
                      "-" if med is None else f"{med:.1f}")
    console.print(table)


@journey_app.command("state")
def journey_state(
    name: JourneyArg,
    account: Annotated[bool, typer.Option(
        "--account", help="Per account (B2B): the furthest stage any of its persons reached.")
    ] = False,
    as_of: Annotated[str | None, typer.Option(
        help="Time in stage up to here (ISO; default: the last event).")] = None,
    limit: Annotated[int | None, typer.Option(help="Rows to list.")] = None,
    write_traits: Annotated[bool, typer.Option(
        "--write-traits", help="Store current_stage, stage_entered_at, days_in_stage and "
        "stages_reached as computed profile traits.")] = False,
    since: SinceOpt = None, until: UntilOpt = None,
    spec: SpecOpt = None, project: ProjectOpt = None, engine: EngineOpt = "duckdb",
    json: JsonOpt = False,
) -> None:
    """Journey state per person (or account): current stage, history, days in stage."""
    flags = {"journey": name, "level": "account" if account else None, "as_of": as_of,
             "limit": limit, "since": since, "until": until}
    if write_traits:
        if account:
            raise SpecError("--write-traits writes person traits; leave out --account",
                            field="level")
        doc = _write_state_traits(spec, flags, project, engine)
    else:
        doc = _run("state", spec, flags, project, engine)
    if json:
        emit_json(doc)
        return
    level = doc["level"]
    table = Table(title=f"journey {doc['journey']} v{doc['version']}: {doc['count']:,} "
                  f"{level}s, as of {doc['as_of'][:16]}", title_justify="left")
    for col in ("stage", f"{level}s now in stage", "ever reached", "median days in stage"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for s in doc["stages"]:
        med = s["median_days_in_stage"]
        table.add_row(s["stage"], f"{s['current']:,}", f"{s['reached']:,}",
                      "-" if med is None else f"{med:.1f}")
    console.print(table)
    rows = Table(title=f"first {len(doc['rows'])} {level}s", title_justify="left")
    for col in (level, "current stage", "since", "days", "stages reached"):
        rows.add_column(col, justify="right" if col == "days" else "left")
    for r in doc["rows"]:
        rows.add_row(r["id"], r["current_stage"], r["stage_entered_at"][:16],
                     f"{r['days_in_stage']:.1f}", " → ".join(r["stages_reached"]))
    console.print(rows)
    if "traits_written" in doc:
        console.print(f"wrote {doc['traits_written']:,} profile trait rows")


def _write_state_traits(spec_file: Path | None, flags: dict[str, Any], project: str | None,
                        engine_name: str) -> dict[str, Any]:
    from cxlens.engines.local import DuckDBEngine
    from cxlens.journeys.analyses import read_spec_file
    from cxlens.journeys.state import spec_from_dict, state, write_traits
    from cxlens.journeys.touchpoints import workspace_definition

    if engine_name != "duckdb":
        raise SpecError("--write-traits runs on the duckdb engine", field="engine")
    doc: dict[str, Any] = read_spec_file(spec_file) if spec_file else {}
    doc.update({k: v for k, v in flags.items() if v not in (None, [], ())})
    ws = open_workspace()
    try:
        result = state(DuckDBEngine(ws, project),
                       spec_from_dict(doc, workspace_definition(ws.root, str(doc["journey"]))))
        out = result.to_dict()
        out["traits_written"] = write_traits(ws, project, result)
    finally:
        ws.close()
    return out


@journey_app.command("suggest")
def journey_suggest(
    name: JourneyArg, project: ProjectOpt = None, json: JsonOpt = False,
) -> None:
    """Propose touchpoints and stages for events the definition does not cover yet."""
    from cxlens.engines.expr import to_sql
    from cxlens.journeys.persons import PERSON_KEY
    from cxlens.journeys.touchpoints import suggest, workspace_definition

    ws = open_workspace()
    try:
        definition = workspace_definition(ws.root, name)

        def stats(rel: Any) -> list[Any]:
            params: list[Any] = []
            person = to_sql(PERSON_KEY, params)
            from cxlens.identity import with_person

            view = "_cx_suggest"
            with_person(ws, rel, project).create_view(view)
            # per event: count, share after the person's first purchase, top channel
            rows = ws.con.sql(
                f"WITH e AS (SELECT {person} AS p, event, channel, timestamp FROM {view} "
                "WHERE event IS NOT NULL), f AS (SELECT p, min(timestamp) AS first_buy "
                "FROM e WHERE event = 'Order Completed' GROUP BY p) "
                "SELECT event, count(*) AS n, avg(CASE WHEN f.first_buy IS NULL THEN NULL "
                "WHEN e.timestamp > f.first_buy THEN 1.0 ELSE 0.0 END) AS after, "
                "mode(channel) AS ch FROM e LEFT JOIN f USING (p) GROUP BY event "
                "ORDER BY n DESC", params=params).fetchall()
            ws.con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
            return list(rows)

        event_stats = ws.query(stats, project)
    finally:
        ws.close()
    found = suggest(definition, [(str(e), int(n), None if a is None else float(a),
                                  None if c is None else str(c)) for e, n, a, c in event_stats])
    docs = [{"event": s.event, "events": s.events, "stage": s.stage, "reason": s.reason}
            for s in found]
    if json:
        emit_json(docs)
        return
    table = Table(title=f"events not covered by {definition.name} v{definition.version}",
                  title_justify="left")
    for col in ("event", "events", "suggested stage", "why"):
        table.add_column(col)
    for d in docs:
        table.add_row(str(d["event"]), f"{d['events']:,}", str(d["stage"]), str(d["reason"]))
    console.print(table)
    if docs:
        console.print("add them as [[touchpoints]] to the definition to use them")
