"""Charts and their tables: every chart on a page carries the table it was drawn from,
so the page can show it as a table and export it as CSV.

Charts are Plotly figures rendered as ``<div>``s without the library; the page loads
plotly.min.js once from ``/static/plotly.min.js``, served out of the installed plotly
wheel (no CDN).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

#: the dashboard palette (all >= 4.5:1 against white, checked in tests/web)
PALETTE = ("#1d4ed8", "#0f766e", "#b45309", "#7c3aed", "#be123c", "#4d7c0f", "#0369a1",
           "#a21caf")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]  # raw values: what the CSV holds
    display: tuple[tuple[str, ...], ...] = ()  # localised text shown on the page
    links: tuple[str | None, ...] = ()  # per row: where the first cell links to

    def shown(self) -> tuple[tuple[str, ...], ...]:
        return self.display or tuple(tuple("" if v is None else str(v) for v in r)
                                     for r in self.rows)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(self.columns)
        for row in self.rows:
            w.writerow(["" if v is None else v for v in row])
        return buf.getvalue()


@dataclass(frozen=True, slots=True)
class Chart:
    id: str
    title: str
    table: Table
    html: str = ""  # the Plotly div; empty: the table is the view
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def plotly_js_path() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def plotly_locale_js(locale: str) -> str:
    """A Plotly locale module (month and day names, separators) built from Babel's CLDR
    data, because the plotly wheel ships the library without its locale files."""
    import json

    from babel import Locale, dates

    loc = Locale.parse(locale)
    months = dates.get_month_names("wide", locale=loc)
    short_months = dates.get_month_names("abbreviated", locale=loc)
    days = dates.get_day_names("wide", locale=loc)
    short_days = dates.get_day_names("abbreviated", locale=loc)
    sunday_first = [6, 0, 1, 2, 3, 4, 5]  # Babel counts from Monday, d3 from Sunday
    fmt = {
        "months": [months[m] for m in range(1, 13)],
        "shortMonths": [short_months[m] for m in range(1, 13)],
        "days": [days[d] for d in sunday_first],
        "shortDays": [short_days[d] for d in sunday_first],
        "decimal": loc.number_symbols["latn"]["decimal"],
        "thousands": loc.number_symbols["latn"]["group"],
        "date": "%d.%m.%Y" if loc.language == "de" else "%d/%m/%Y",
    }
    module = {"moduleType": "locale", "name": loc.language, "dictionary": {}, "format": fmt}
    return f"Plotly.register({json.dumps(module, ensure_ascii=False)});\n"


def layout(fig: go.Figure, height: int = 360, **kw: Any) -> go.Figure:
    fig.update_layout(
        height=height, margin={"l": 48, "r": 16, "t": 16, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
        font={"family": FONT, "size": 13, "color": "#1f2937"},
        colorway=list(PALETTE), legend={"orientation": "h", "y": -0.18},
        hoverlabel={"font": {"family": FONT}}, **kw)
    fig.update_xaxes(gridcolor="#e5e7eb", zeroline=False)
    fig.update_yaxes(gridcolor="#e5e7eb", zeroline=False)
    return fig


def to_div(fig: go.Figure, div_id: str, locale: str) -> str:
    # decimal and thousands separators as the reader expects them (1.234,5 vs 1,234.5)
    fig.update_layout(separators=",." if locale == "de" else ".,")
    return str(fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id,
        config={"displaylogo": False, "responsive": True, "locale": locale,
                "modeBarButtonsToRemove": ["lasso2d", "select2d"]}))


def bar(x: Sequence[Any], ys: Mapping[str, Sequence[float]], horizontal: bool = False,
        height: int = 340) -> go.Figure:
    fig = go.Figure()
    for name, y in ys.items():
        if horizontal:
            fig.add_bar(y=list(x), x=list(y), name=name, orientation="h")
        else:
            fig.add_bar(x=list(x), y=list(y), name=name)
    layout(fig, height=height, barmode="group", showlegend=len(ys) > 1)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    return fig


def lines(x: Sequence[Any], ys: Mapping[str, Sequence[float]], secondary: str | None = None,
          height: int = 320) -> go.Figure:
    fig = go.Figure()
    for name, y in ys.items():
        fig.add_scatter(x=list(x), y=list(y), name=name, mode="lines",
                        yaxis="y2" if name == secondary else "y", line={"width": 2})
    layout(fig, height=height)
    if secondary:
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
    return fig


def heatmap(x: Sequence[str], y: Sequence[str], z: Sequence[Sequence[float | None]],
            text: Sequence[Sequence[str]], height: int = 420) -> go.Figure:
    fig = go.Figure(go.Heatmap(
        x=list(x), y=list(y), z=[list(r) for r in z], text=[list(r) for r in text],
        texttemplate="%{text}", colorscale="Blues", hoverongaps=False, showscale=True))
    layout(fig, height=height)
    fig.update_yaxes(autorange="reversed")
    return fig


def sankey(labels: Sequence[str], sources: Sequence[int], targets: Sequence[int],
           values: Sequence[int], height: int = 520) -> go.Figure:
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": list(labels), "pad": 14, "thickness": 14, "color": PALETTE[0]},
        link={"source": list(sources), "target": list(targets), "value": list(values),
              "color": "rgba(29, 78, 216, 0.25)"}))
    layout(fig, height=height)
    return fig
