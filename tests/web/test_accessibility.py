"""Contrast of the dashboard's own palette (WCAG 2.x: >= 4.5:1 for text), read from the
stylesheet and the chart palette, so a colour change that hurts legibility fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxlens.web.charts import PALETTE

CSS = (Path(__file__).resolve().parents[2] / "src/cxlens/web/static/cx.css").read_text()
VARS = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-f]{6})", CSS))


def luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# (text, background) pairs the stylesheet uses
PAIRS = [("text", "bg"), ("text", "card"), ("muted", "card"), ("muted", "bg"), ("brand", "card"),
         ("ok", "ok-bg"), ("bad", "bad-bg"), ("text", "f0"), ("text", "f1"), ("text", "f2"),
         ("text", "f3"), ("text", "f4")]


def test_reference_contrast_values() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


@pytest.mark.parametrize(("fg", "bg"), PAIRS)
def test_text_colours_reach_aa_contrast(fg: str, bg: str) -> None:
    assert contrast(VARS[fg], VARS[bg]) >= 4.5, (fg, bg)


def test_white_on_brand_and_chart_colours_reach_aa() -> None:
    assert contrast("#ffffff", VARS["brand"]) >= 4.5
    assert contrast("#ffffff", VARS["brand-dark"]) >= 4.5
    for colour in PALETTE:
        assert contrast(colour, "#ffffff") >= 4.5, colour
