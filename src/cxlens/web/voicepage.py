"""The voice-of-the-customer page: NPS, CSAT and CES with intervals and their trend,
scores by touchpoint, stage, channel and persona, the means of custom scale questions
(each question on its own, by the same dimensions), topics with sentiment, and verbatims
filterable by touchpoint, stage, persona and language.

Everything comes from ``tables/feedback`` (imports and survey answers) joined to
resolved persons and the latest persona run (:mod:`cxlens.voice.segments`). Results are
cached per project, feedback snapshot (file names), period and language.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import plotly.graph_objects as go
from starlette.responses import Response

from cxlens.voice.scores import QUESTION, GroupScores, Interval, group_scores
from cxlens.voice.segments import feedback_files, feedback_relation
from cxlens.web import charts, queries
from cxlens.web.charts import Chart, Table
from cxlens.web.i18n import Fmt, Lang, stage_label, t

if TYPE_CHECKING:
    from cxlens.store.workspace import Workspace
    from cxlens.web.pages import Ctx, Web

DIMS: Final = ("touchpoint", "stage", "channel", "persona")
FILTERS: Final = {"touchpoint": "vt", "stage": "vs", "persona": "vp", "language": "vl"}
MAX_TEXTS: Final = 5000
VERBATIMS: Final = 200
TREND_DAYS: Final = 84  # the trend shows at least 12 weeks


@dataclass(frozen=True, slots=True)
class Row:
    feedback_id: str
    timestamp: datetime
    kind: str
    score: float | None
    scale_max: float | None
    text: str | None
    language: str | None
    touchpoint: str
    stage: str
    channel: str
    persona: str | None
    sentiment: str | None
    question: str | None = None  # "<survey>/<question>" of a custom scale answer


@dataclass(frozen=True, slots=True)
class VoiceData:
    rows: tuple[Row, ...]  # feedback of the trend window (>= the period), newest first
    has_personas: bool
    #: "<survey>/<question>" -> the question's text in the page's language
    questions: dict[str, str] | None = None


def question_texts(ws: Workspace, project: str, keys: set[str], lang: Lang) -> dict[str, str]:
    """The current wording of the custom scale questions that have answers."""
    from cxlens.surveys.store import list_surveys

    out: dict[str, str] = {}
    for sv in list_surveys(ws.catalog, project):
        for q in sv.questions:
            key = f"{sv.id}/{q.id}"
            if key in keys:
                out[key] = q.text.get(lang)
    return out


def load(ws: Workspace, project: str, period: queries.Period, lang: Lang) -> VoiceData:
    from cxlens.store import duck

    con = duck.connect()
    try:
        rel = feedback_relation(ws, con, project, lang)
        if rel is None:
            return VoiceData((), False)
        since = min(period.since, period.until - timedelta(days=TREND_DAYS))
        rel.create_view("_fbv")
        got = con.execute(f"""
            SELECT feedback_id, timestamp, kind, score, scale_max, text, language,
                   coalesce(touchpoint, '(none)'), coalesce(stage, '(none)'), coalesce(channel, '(none)'),
                   persona, json_extract_string(properties, '$.sentiment'), {QUESTION}
            FROM _fbv WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp DESC
        """, [since, period.until]).fetchall()
    finally:
        con.close()
    rows = [Row(*r) for r in got]
    todo = [i for i, r in enumerate(rows) if r.text and r.sentiment is None][:MAX_TEXTS]
    if todo:  # imported feedback has no stored sentiment: compute it (fast, offline)
        from cxlens.voice.sentiment import sentiment_batch

        got_s = sentiment_batch([rows[i].text or "" for i in todo],
                                [rows[i].language if rows[i].language in ("de", "en") else None for i in todo])
        for i, s in zip(todo, got_s, strict=True):
            rows[i] = replace(rows[i], sentiment=s.label)
    keys = {r.question for r in rows if r.question}
    return VoiceData(tuple(rows), any(r.persona is not None for r in rows),
                     question_texts(ws, project, keys, lang) if keys else {})


def snapshot(ws: Workspace, project: str) -> tuple[str | None, ...]:
    """Changes with the feedback files (not in the catalog) and the latest persona run."""
    from cxlens.personas.store import latest_id

    return (*(p.rsplit("/", 1)[-1] for p in feedback_files(ws.root, project)), latest_id(ws, project))


# -- formatting -------------------------------------------------------------------------
def _iv(fmt: Fmt, iv: Interval | None, kind: str) -> str:
    if iv is None:
        return "\u2013"
    if kind == "nps":
        return fmt.number(iv.value, 0)
    if kind == "csat":
        return fmt.percent(iv.value / 100, 0)
    return fmt.number(iv.value, 2)


def card(fmt: Fmt, lang: Lang, kind: str, iv: Interval | None) -> dict[str, str]:
    if iv is None:
        return {"kind": kind, "value": "\u2013", "ci": t(lang, "voice.none"), "n": ""}
    lo = Interval(iv.low, iv.low, iv.low, iv.n)
    hi = Interval(iv.high, iv.high, iv.high, iv.n)
    return {"kind": kind, "value": _iv(fmt, iv, kind),
            "ci": t(lang, "voice.ci", low=_iv(fmt, lo, kind), high=_iv(fmt, hi, kind)),
            "n": t(lang, "voice.n", n=fmt.number(iv.n))}


def _raw(iv: Interval | None) -> tuple[Any, Any, Any, Any]:
    if iv is None:
        return (None, None, None, 0)
    return (round(iv.value, 3), round(iv.low, 3), round(iv.high, 3), iv.n)


def scores_table(groups: list[GroupScores], fmt: Fmt, first: str = "group") -> Table:
    cols = (first, "feedback", "nps", "nps_low", "nps_high", "nps_n", "csat", "csat_low", "csat_high",
            "csat_n", "ces", "ces_low", "ces_high", "ces_n")
    rows = tuple((g.group, g.feedback, *_raw(g.nps), *_raw(g.csat), *_raw(g.ces)) for g in groups)

    def shown(g: GroupScores) -> tuple[str, ...]:
        out = [g.group, fmt.number(g.feedback)]
        for kind, iv in (("nps", g.nps), ("csat", g.csat), ("ces", g.ces)):
            if iv is None:
                out += ["\u2013"] * 4
            else:
                out += [_iv(fmt, iv, kind), _iv(fmt, Interval(iv.low, 0, 0, 0), kind),
                        _iv(fmt, Interval(iv.high, 0, 0, 0), kind), fmt.number(iv.n)]
        return tuple(out)

    return Table(cols, rows, tuple(shown(g) for g in groups))


def _dim(r: Row, dim: str) -> str:
    return str(getattr(r, dim) or "(none)")


def charts_for(data: VoiceData, period: queries.Period, lang: Lang, fmt: Fmt,
               filters: dict[str, str]) -> tuple[list[Chart], list[dict[str, str]]]:
    in_period = [r for r in data.rows if r.timestamp >= period.since]
    overall = group_scores(("all", r.kind, r.score, r.scale_max) for r in in_period)
    g = overall[0] if overall else None
    cards = [card(fmt, lang, "nps", g.nps if g else None), card(fmt, lang, "csat", g.csat if g else None),
             card(fmt, lang, "ces", g.ces if g else None)]
    out: list[Chart] = []
    # trend per ISO week, with the interval in the table
    weekly = group_scores((r.timestamp.strftime("%G-W%V"), r.kind, r.score, r.scale_max) for r in data.rows)
    fig = charts.layout(go.Figure(), height=320)
    for kind, label, axis in (("nps", "NPS", "y"), ("csat", "CSAT %", "y2")):
        pts = [(w.group, getattr(w, kind)) for w in weekly if getattr(w, kind) is not None]
        if pts:
            fig.add_scatter(x=[p[0] for p in pts], y=[p[1].value for p in pts], name=label, mode="lines+markers",
                            yaxis=axis, error_y={"type": "data", "symmetric": False,
                                                 "array": [p[1].high - p[1].value for p in pts],
                                                 "arrayminus": [p[1].value - p[1].low for p in pts]})
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "range": [0, 100]})
    out.append(Chart("trend", t(lang, "voice.trend"), scores_table(weekly, fmt, "week"),
                     charts.to_div(fig, "chart-voice-trend", lang) if weekly else ""))
    for dim in DIMS:
        if dim == "persona" and not data.has_personas:
            continue
        groups = group_scores((_dim(r, dim), r.kind, r.score, r.scale_max) for r in in_period)
        title = t(lang, "voice.scores_by", dim=t(lang, f"voice.dim.{dim}"))
        html = ""
        with_nps = [x for x in groups if x.nps is not None]
        if dim == "touchpoint" and with_nps:
            f2 = charts.bar([x.group for x in with_nps], {"NPS": [x.nps.value for x in with_nps if x.nps]},
                            horizontal=True, height=max(220, 40 * len(with_nps) + 80))
            f2.update_traces(error_x={"type": "data", "symmetric": False,
                                      "array": [x.nps.high - x.nps.value for x in with_nps if x.nps],
                                      "arrayminus": [x.nps.value - x.nps.low for x in with_nps if x.nps]})
            html = charts.to_div(f2, "chart-voice-touchpoint", lang)
        out.append(Chart(f"by-{dim}", title, scores_table(groups, fmt, dim), html))
    if any(r.question for r in in_period):
        out.append(scales_chart(in_period, data.questions or {}, lang, fmt, data.has_personas))
    out.append(topics_chart(in_period, lang, fmt))
    out.append(verbatims_chart(in_period, lang, fmt, filters))
    return out, cards


def scales_chart(rows: list[Row], questions: dict[str, str], lang: Lang, fmt: Fmt,
                 has_personas: bool) -> Chart:
    """Each custom scale question's mean with its interval, overall and by touchpoint,
    stage, channel and persona (a mean of 1-7 answers, not a share like CSAT)."""
    dims = [d for d in DIMS if d != "persona" or has_personas]
    raw: list[tuple[Any, ...]] = []
    display: list[tuple[str, ...]] = []
    for dim in ("all", *dims):
        label = t(lang, "voice.all") if dim == "all" else t(lang, f"voice.dim.{dim}")
        groups = group_scores(("all" if dim == "all" else _dim(r, dim), r.kind, r.score, r.scale_max,
                               r.question) for r in rows if r.question)
        for g in groups:
            for sc in g.scales:
                iv = sc.mean
                text = questions.get(sc.question, sc.question)
                raw.append((sc.question, text, dim, g.group, sc.scale_max, round(iv.value, 3),
                            round(iv.low, 3), round(iv.high, 3), iv.n))
                display.append((text, label, stage_label(lang, g.group) if dim == "stage" else
                                (t(lang, "voice.all") if dim == "all" else g.group),
                                fmt.number(sc.scale_max, 0) if sc.scale_max else "\u2013",
                                fmt.number(iv.value, 2), fmt.number(iv.low, 2), fmt.number(iv.high, 2),
                                fmt.number(iv.n)))
    return Chart("scales", t(lang, "voice.scales"),
                 Table(("question_id", "question", "dimension", "group", "scale_max", "mean", "mean_low",
                        "mean_high", "mean_n"), tuple(raw), tuple(display)),
                 note=t(lang, "voice.scales_note"))


def topics_chart(rows: list[Row], lang: Lang, fmt: Fmt) -> Chart:
    from cxlens.voice.pipeline import analyze_texts, topic_report

    texts = [r for r in rows if r.text][:MAX_TEXTS]
    table_rows: list[tuple[Any, ...]] = []
    if texts:
        an = analyze_texts([r.text or "" for r in texts],
                           [r.language if r.language in ("de", "en") else None for r in texts])
        for tp in topic_report(an, [r.touchpoint for r in texts], lang):
            for a in tp.aspects[:8]:
                net = (a.positive - a.negative) / a.mentions if a.mentions else 0.0
                table_rows.append((tp.touchpoint, a.name, a.mentions, a.positive, a.neutral, a.negative,
                                   round(net, 3)))
    display = tuple((r[0], r[1], fmt.number(r[2]), fmt.number(r[3]), fmt.number(r[4]), fmt.number(r[5]),
                     fmt.percent(r[6], 0)) for r in table_rows)
    return Chart("topics", t(lang, "voice.topics"),
                 Table(("touchpoint", "aspect", "mentions", "positive", "neutral", "negative", "net_sentiment"),
                       tuple(table_rows), display))


def verbatims_chart(rows: list[Row], lang: Lang, fmt: Fmt, filters: dict[str, str]) -> Chart:
    picked = [r for r in rows if r.text and all(_dim(r, k) == v for k, v in filters.items())][:VERBATIMS]
    raw = tuple((r.timestamp.isoformat(), r.touchpoint, r.stage, r.persona, r.language, r.kind, r.score,
                 r.sentiment, r.text) for r in picked)
    display = tuple((fmt.datetime(r.timestamp), r.touchpoint, stage_label(lang, r.stage), r.persona or "\u2013",
                     t(lang, f"voice.lang.{r.language}") if r.language in ("de", "en") else (r.language or ""),
                     r.kind, "\u2013" if r.score is None else fmt.number(r.score, 0),
                     t(lang, f"voice.sentiment.{r.sentiment}") if r.sentiment else "", r.text or "")
                    for r in picked)
    return Chart("verbatims", t(lang, "voice.verbatims"),
                 Table(("time", "touchpoint", "stage", "persona", "language", "kind", "score", "sentiment", "text"),
                       raw, display), note=t(lang, "voice.verbatims_note"))


def options(data: VoiceData) -> dict[str, list[str]]:
    return {dim: sorted({_dim(r, dim) for r in data.rows if r.text}) for dim in FILTERS}


def voice_page(web: Web, ctx: Ctx) -> Response:
    from cxlens.web.pages import page_response

    key = ("voice", ctx.project, snapshot(ctx.ws, ctx.project), ctx.period, ctx.lang)
    data: VoiceData = web.cache.get(key, lambda: load(ctx.ws, ctx.project, ctx.period, ctx.lang))
    if ctx.persona is not None:  # the dashboard's persona filter narrows the whole page
        name = next((p.name for p in ctx.personas if p.id == ctx.persona), None)
        data = VoiceData(tuple(r for r in data.rows if r.persona == name), data.has_personas)
    q = ctx.request.query_params
    filters = {dim: str(q[p])[:200] for dim, p in FILTERS.items() if q.get(p)}
    chart_list, cards = charts_for(data, ctx.period, ctx.lang, ctx.fmt, filters)
    return page_response(web, ctx, "voice.html", chart_list, cards=cards, empty=not data.rows,
                         options=options(data), filters=filters, params=FILTERS,
                         filter_json=json.dumps(filters))
