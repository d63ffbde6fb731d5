"""What each page shows, as charts with tables: pure functions from query results and a
language to :class:`Chart` objects. The routes in ``pages.py`` only pick the inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import duckdb

from cxlens.engines.base import Engine
from cxlens.engines.local import DuckDBEngine
from cxlens.engines.segment import persona_segment
from cxlens.journeys import funnels, graph, paths, retention
from cxlens.journeys.steps import Filter
from cxlens.store.workspace import Workspace
from cxlens.web import charts
from cxlens.web.charts import Chart, Table
from cxlens.web.i18n import Fmt, Lang, channel_label, stage_label, t
from cxlens.web.journeymap import JourneyMap
from cxlens.web.kpis import Kpi, Overview
from cxlens.web.queries import Period

BREAKDOWNS = ("channel", "device", "source", "locale", "persona", "account.industry")

T = TypeVar("T")
#: ``cache(key, make)``: the page's result cache (per project and event snapshot); the
#: analyses' results are cached, not the charts, so one result serves both languages
Cache = Callable[[str, Callable[[], T]], T]


def no_cache(key: str, make: Callable[[], T]) -> T:
    del key
    return make()


def kpi_value(fmt: Fmt, k: Kpi, value: float | None) -> str:
    if k.unit == "money":
        return fmt.money(value)
    if k.unit == "rate":
        return fmt.percent(value)
    if k.unit == "points":
        return fmt.number(value, 1)
    return fmt.number(value)


def kpi_change(fmt: Fmt, k: Kpi) -> str:
    ch = k.change
    if ch is None:
        return "\u2013"
    if k.unit == "points":
        return ("+" if ch >= 0 else "\u2212") + fmt.number(abs(ch), 1)
    return fmt.change(ch)


def target_text(fmt: Fmt, k: Kpi) -> str:
    if k.target is None:
        return ""
    return f"{k.target.op} {kpi_value(fmt, k, k.target.value)}"


def overview_charts(ov: Overview, lang: Lang, fmt: Fmt) -> list[Chart]:
    kpi_rows = tuple((k.name, k.current, k.previous, k.change,
                      k.target.text if k.target else None,
                      None if k.met is None else ("met" if k.met else "missed"))
                     for k in ov.kpis)
    kpi_display = tuple((t(lang, f"kpi.{k.name}"), kpi_value(fmt, k, k.current),
                         kpi_value(fmt, k, k.previous), kpi_change(fmt, k), target_text(fmt, k),
                         "" if k.met is None else t(lang, "kpi.target_met" if k.met
                                                    else "kpi.target_missed"))
                        for k in ov.kpis)
    kpi_table = Table(("kpi", "current", "previous", "change", "target", "status"), kpi_rows,
                      kpi_display)
    days = [d.day for d in ov.daily]
    v, o, r = t(lang, "kpi.visitors"), t(lang, "kpi.orders"), t(lang, "kpi.revenue")
    fig = charts.lines(days, {v: [d.visitors for d in ov.daily],
                              o: [d.orders for d in ov.daily],
                              r: [d.revenue for d in ov.daily]}, secondary=r)
    daily = Table(("day", "visitors", "orders", "revenue"),
                  tuple((d.day.isoformat(), d.visitors, d.orders, round(d.revenue, 2))
                        for d in ov.daily),
                  tuple((fmt.date(d.day), fmt.number(d.visitors), fmt.number(d.orders),
                         fmt.money(d.revenue, ov.currency)) for d in ov.daily))
    out = [Chart("daily", t(lang, "overview.daily"), daily,
                 charts.to_div(fig, "chart-daily", lang)),
           Chart("kpis", t(lang, "kpi.kpi"), kpi_table)]
    if ov.by_persona:
        rows = ov.by_persona
        out.append(Chart("personas", t(lang, "overview.by_persona"), Table(
            ("persona", "visitors", "conversion_rate", "orders", "revenue",
             "average_order_value"),
            tuple((r.segment, r.visitors, r.conversion_rate, r.orders, round(r.revenue, 2),
                   r.average_order_value) for r in rows),
            tuple((r.segment, fmt.number(r.visitors), fmt.percent(r.conversion_rate),
                   fmt.number(r.orders), fmt.money(r.revenue, ov.currency),
                   fmt.money(r.average_order_value, ov.currency)) for r in rows))))
    return out


# -- journey map -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MapCell:
    stage: str
    channel: str | None
    persons: str
    conversion: str
    median: str
    level: int  # 0 (little drop-off) .. 4 (most), -1: no next stage
    sentiment: str  # the mean, signed ("+0.42"), "" without feedback
    title: str
    mood: str = "none"  # the colour step of MOODS; "none": no feedback (grey)
    feedback: str = ""  # how many feedback rows the mean is over
    mood_text: str = ""  # positive / neutral / negative / no feedback, in the page's language


#: colour steps of a cell's mean sentiment (-1..+1): (lowest mean of the step, class, label).
#: Within ±0.15 the texts cancel out or are factual, so the cell reads neutral; past ±0.5
#: most of its feedback leans one way
MOODS: Final = ((0.5, "pos2", "positive"), (0.15, "pos", "positive"), (-0.15, "neu", "neutral"),
                (-0.5, "neg", "negative"), (-1.01, "neg2", "negative"))


def mood(sentiment: float | None) -> str:
    """The colour step (class suffix) of a mean sentiment; "none" without feedback."""
    if sentiment is None:
        return "none"
    return next(cls for low, cls, _ in MOODS if sentiment >= low)


def mood_label(lang: Lang, sentiment: float | None) -> str:
    if sentiment is None:
        return t(lang, "journey.no_feedback")
    return t(lang, "voice.sentiment." + next(lab for low, _, lab in MOODS if sentiment >= low))


def friction_level(dropoff: float | None) -> int:
    """Five steps of drop-off so the colour scale is readable and explained in a legend."""
    if dropoff is None:
        return -1
    return min(4, int(dropoff * 5))


def _signed(fmt: Fmt, v: float | None) -> str:
    if v is None:
        return ""
    return ("+" if v > 0.005 else "") + fmt.number(v, 2)


def journey_cells(jm: JourneyMap, lang: Lang, fmt: Fmt
                  ) -> list[tuple[str | None, list[MapCell | None]]]:
    out: list[tuple[str | None, list[MapCell | None]]] = []
    for channel in (None, *jm.channels):
        row: list[MapCell | None] = []
        for stage in jm.stages:
            c = jm.cell(stage, channel)
            if c is None:
                row.append(None)
                continue
            name = stage_label(lang, stage)
            ch = channel_label(lang, channel) or t(lang, "journey.total")
            row.append(MapCell(
                stage, channel, fmt.number(c.persons), fmt.percent(c.conversion, 0),
                fmt.duration(c.median_seconds), friction_level(c.dropoff),
                _signed(fmt, c.sentiment), t(lang, "journey.cell", stage=name, channel=ch),
                mood(c.sentiment), fmt.number(c.feedback) if c.feedback else "",
                mood_label(lang, c.sentiment)))
        out.append((channel, row))
    return out


def journey_table(jm: JourneyMap, lang: Lang, fmt: Fmt) -> Chart:
    rows = []
    display = []
    for (stage, channel), c in sorted(jm.cells.items(),
                                      key=lambda kv: (jm.stages.index(kv[0][0]),
                                                      kv[0][1] or "")):
        rows.append((stage, channel or "all", c.persons, c.advanced, c.conversion,
                     c.median_seconds, None if c.sentiment is None else round(c.sentiment, 4), c.feedback))
        display.append((stage_label(lang, stage),
                        channel_label(lang, channel) or t(lang, "journey.total"),
                        fmt.number(c.persons), fmt.number(c.advanced),
                        fmt.percent(c.conversion), fmt.duration(c.median_seconds),
                        _signed(fmt, c.sentiment), fmt.number(c.feedback)))
    return Chart("journey", t(lang, "journey.title"),
                 Table(("stage", "channel", "persons", "advanced", "conversion_to_next",
                        "median_seconds_to_next", "sentiment", "feedback"), tuple(rows), tuple(display)))


def dropoff_chart(jm: JourneyMap, lang: Lang, fmt: Fmt) -> Chart:
    cells = jm.biggest_dropoffs(8)
    labels = [f"{stage_label(lang, c.stage)} · {channel_label(lang, c.channel)}" for c in cells]
    lost = [c.persons - c.advanced for c in cells]
    fig = charts.bar(labels, {t(lang, "journey.dropoff"): lost}, horizontal=True, height=320)
    table = Table(("stage", "channel", "persons", "dropped", "dropoff"),
                  tuple((c.stage, c.channel, c.persons, c.persons - c.advanced, c.dropoff)
                        for c in cells),
                  tuple((stage_label(lang, c.stage), channel_label(lang, c.channel),
                         fmt.number(c.persons),
                         fmt.number(c.persons - c.advanced), fmt.percent(c.dropoff))
                        for c in cells))
    return Chart("dropoffs", t(lang, "journey.dropoffs"), table,
                 charts.to_div(fig, "chart-dropoffs", lang))


def engine(ws: Workspace, project: str, persona: int | None) -> Engine:
    """The engine the pages run analyses on, narrowed to a persona when one is chosen."""
    return persona_segment(DuckDBEngine(ws, project), persona)


# -- funnels ---------------------------------------------------------------------------
def funnel_charts(ws: Workspace, project: str, doc: Mapping[str, Any], period: Period,
                  lang: Lang, fmt: Fmt, cache: Cache[Any] = no_cache,
                  persona: int | None = None) -> list[Chart]:
    """The funnel of ``doc`` (a funnel spec document: steps, window, mode, exclusions,
    breakdown) over ``period``."""
    breakdown = doc.get("breakdown")
    spec = funnels.spec_from_dict({**doc, "since": period.since.isoformat(),
                                   "until": period.until.isoformat(), "list_persons": 0})
    res: funnels.FunnelResult = cache(repr((spec, persona)), lambda: funnels.funnel(
        engine(ws, project, persona), spec))
    names = [s.name for s in res.steps]
    fig = charts.bar(names, {t(lang, "funnel.persons"): [s.persons for s in res.steps]})
    table = Table(("step", "name", "persons", "conversion", "from_previous", "dropped",
                   "median_seconds_from_previous"),
                  tuple((s.step, s.name, s.persons, s.conversion, s.from_previous, s.dropped,
                         s.median_seconds_from_previous) for s in res.steps),
                  tuple((str(s.step), s.name, fmt.number(s.persons), fmt.percent(s.conversion),
                         fmt.percent(s.from_previous), fmt.number(s.dropped),
                         fmt.duration(s.median_seconds_from_previous)) for s in res.steps))
    out = [Chart("funnel", t(lang, "funnel.title"), table, charts.to_div(fig, "chart-funnel", lang))]
    if res.breakdown:
        groups = sorted(res.breakdown.items(), key=lambda kv: -kv[1][0].persons)[:8]
        ys = {k: [s.conversion for s in v] for k, v in groups}
        bfig = charts.bar(names, ys)
        bfig.update_yaxes(tickformat=".0%")
        rows = tuple((k, s.step, s.name, s.persons, s.conversion) for k, v in groups for s in v)
        out.append(Chart("breakdown", t(lang, "funnel.by", field=breakdown),
                         Table(("value", "step", "name", "persons", "conversion"), rows,
                               tuple((str(a), str(b), c, fmt.number(d), fmt.percent(e))
                                     for a, b, c, d, e in rows)),
                         charts.to_div(bfig, "chart-breakdown", lang)))
    return out


def event_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT event, count(*) FROM ev WHERE event IS NOT NULL "
                       "GROUP BY 1 ORDER BY 2 DESC LIMIT 200").fetchall()
    return [str(r[0]) for r in rows]


# -- paths and graph -------------------------------------------------------------------
def paths_charts(ws: Workspace, project: str, start: str | None, max_steps: int,
                 period: Period, lang: Lang, fmt: Fmt, cache: Cache[Any] = no_cache,
                 persona: int | None = None) -> list[Chart]:
    spec = paths.spec_from_dict({"start": start or None, "max_steps": max_steps, "top": 15,
                                 "max_links": 40, "since": period.since.isoformat(),
                                 "until": period.until.isoformat()})
    res: paths.PathsResult = cache(repr((spec, persona)), lambda: paths.paths(
        engine(ws, project, persona), spec))
    index = {n.id: i for i, n in enumerate(res.nodes)}
    used = [li for li in res.links if li.source in index and li.target in index]
    fig = charts.sankey([f"{n.step}. {n.item}" for n in res.nodes],
                        [index[li.source] for li in used], [index[li.target] for li in used],
                        [li.count for li in used])
    links = Table(("source", "target", "count", "persons", "share_of_persons"),
                  tuple((li.source, li.target, li.count, li.persons, li.share_of_persons)
                        for li in used),
                  tuple((li.source, li.target, fmt.number(li.count), fmt.number(li.persons),
                         fmt.percent(li.share_of_persons)) for li in used))
    top = Table(("path", "count", "persons", "share_of_persons"),
                tuple((" → ".join(r.steps), r.count, r.persons, r.share_of_persons)
                      for r in res.top),
                tuple((" → ".join(r.steps), fmt.number(r.count), fmt.number(r.persons),
                       fmt.percent(r.share_of_persons)) for r in res.top))
    return [Chart("sankey", t(lang, "paths.title"), links, charts.to_div(fig, "chart-sankey", lang)),
            Chart("top", t(lang, "paths.top"), top)]


def graph_charts(ws: Workspace, project: str, period: Period, lang: Lang, fmt: Fmt,
                 cache: Cache[Any] = no_cache, persona: int | None = None) -> list[Chart]:
    # named events only (product views, orders, deliveries, tickets, surveys, newsletters):
    # with page views every product URL becomes a node (18k edges at 1M events, 10x slower)
    # and the matrix says nothing a manager can act on; page flows are on the Paths page
    spec = graph.GraphSpec(where=(Filter("type", "=", "track"),), per_session=True,
                           top_variants=10, since=period.since, until=period.until)
    res: graph.GraphResult = cache(repr((spec, persona)), lambda: graph.graph(
        engine(ws, project, persona), spec))
    edges = sorted(res.edges, key=lambda e: -e.count)[:40]
    nodes = sorted({e.source for e in edges} | {e.target for e in edges},
                   key=lambda n: -sum(e.count for e in edges if e.source == n))
    idx = {n: i for i, n in enumerate(nodes)}
    z: list[list[float | None]] = [[None] * len(nodes) for _ in nodes]
    text: list[list[str]] = [[""] * len(nodes) for _ in nodes]
    for e in edges:
        z[idx[e.source]][idx[e.target]] = e.count
        text[idx[e.source]][idx[e.target]] = fmt.number(e.count)
    fig = charts.heatmap(nodes, nodes, z, text, height=max(360, 28 * len(nodes) + 120))
    fig.update_xaxes(title=t(lang, "graph.to"), tickangle=-35)
    fig.update_yaxes(title=t(lang, "graph.from"))
    table = Table(("source", "target", "count", "persons", "median_seconds"),
                  tuple((e.source, e.target, e.count, e.persons, e.median_seconds)
                        for e in edges),
                  tuple((e.source, e.target, fmt.number(e.count), fmt.number(e.persons),
                         fmt.duration(e.median_seconds)) for e in edges))
    variants = Table(("variant", "count", "share"),
                     tuple((" → ".join(v.steps), v.count, v.share) for v in res.variants),
                     tuple((" → ".join(v.steps), fmt.number(v.count), fmt.percent(v.share))
                           for v in res.variants))
    return [Chart("edges", t(lang, "graph.edges"), table, charts.to_div(fig, "chart-graph", lang)),
            Chart("variants", t(lang, "graph.variants"), variants)]


# -- retention -------------------------------------------------------------------------
def retention_charts(ws: Workspace, project: str, lang: Lang, fmt: Fmt, period: str = "month",
                     periods: int = 6, cache: Cache[Any] = no_cache,
                     persona: int | None = None) -> list[Chart]:
    """Cohorts by first order, share ordering again k periods later (cxlens.journeys
    retention), and the lifecycle of buyers per period (new, returning, resurrected,
    dormant)."""
    spec = retention.spec_from_dict({"period": period, "first": "Order Completed",
                                     "returning": "Order Completed",
                                     "purchase": "Order Completed", "periods": periods})
    res: retention.RetentionResult = cache(repr((spec, persona)), lambda: retention.retention(
        engine(ws, project, persona), spec))
    cohorts = list(res.cohorts)
    ks = list(range(1, periods + 1))
    z: list[list[float | None]] = [
        [(c.retained[k] / c.persons) if c.persons and k < len(c.retained) else None
         for k in ks] for c in cohorts]
    text = [[fmt.percent(v, 1) if v is not None else "" for v in row] for row in z]
    labels = [c.start for c in cohorts]
    xs = [t(lang, "retention.month", n=k) for k in ks]
    fig = charts.heatmap(xs, labels, z, text, height=max(300, 40 * len(cohorts) + 120))
    table = Table(("cohort", "customers", *[f"month_{k}" for k in ks]),
                  tuple((c.start, c.persons, *row) for c, row in zip(cohorts, z, strict=True)),
                  tuple((c.start, fmt.number(c.persons), *tr)
                        for c, tr in zip(cohorts, text, strict=True)))
    life = list(res.lifecycle)
    kinds = ("new", "returning", "resurrected", "dormant")
    lfig = charts.bar([lp.start for lp in life],
                      {t(lang, f"retention.{k}"): [(-1 if k == "dormant" else 1) * getattr(lp, k)
                                                   for lp in life] for k in kinds})
    lfig.update_layout(barmode="relative")
    ltable = Table(("period", *kinds),
                   tuple((lp.start, lp.new, lp.returning, lp.resurrected, lp.dormant)
                         for lp in life),
                   tuple((lp.start, *(fmt.number(getattr(lp, k)) for k in kinds))
                         for lp in life))
    note = t(lang, "retention.repeat", rate=fmt.percent(res.repeat_purchase_rate),
             buyers=fmt.number(res.buyers))
    return [Chart("retention", t(lang, "retention.heatmap"), table,
                  charts.to_div(fig, "chart-retention", lang), note=note),
            Chart("lifecycle", t(lang, "retention.lifecycle"), ltable,
                  charts.to_div(lfig, "chart-lifecycle", lang))]
