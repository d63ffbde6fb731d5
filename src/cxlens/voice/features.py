"""Sparse features of one text for the linear sentiment model.

A text becomes a bag of named features: words (marked when a negator's scope covers them,
so "nicht gut" is not "gut"), six-letter stems (German inflects: "verspätet",
"Verspätung"), word pairs, the cue lists of :mod:`cxlens.voice.text` flipped by negation
and boosted by intensifiers, emoji and punctuation. The training script and the runtime
call the same function, so a model and its features can never disagree.
"""

from __future__ import annotations

from typing import Final

from cxlens.voice.text import INTENSIFIERS, negation_marks, polarity

STEM_LEN: Final = 6

_token_cache: dict[tuple[str, bool], tuple[str, ...]] = {}


def _token_features(tok: str, negated: bool) -> tuple[str, ...]:
    key = (tok, negated)
    feats = _token_cache.get(key)
    if feats is not None:
        return feats
    mark = "~" if negated else ""
    out = [f"w:{mark}{tok}"]
    if len(tok) > STEM_LEN + 1 and tok.isalpha():
        out.append(f"s:{mark}{tok[:STEM_LEN]}")
    p = polarity(tok)
    if p:
        if negated:
            p = -p
        out.append("lex:pos" if p > 0 else "lex:neg")
    feats = tuple(out)
    if len(_token_cache) < 500_000:
        _token_cache[key] = feats
    return feats


def text_features(toks: list[str], language: str) -> list[str]:
    """Feature names of one tokenised text (repeats count)."""
    feats = [f"lang:{language}"]
    marks = negation_marks(toks)
    prev = "<s>"
    for tok, neg in zip(toks, marks, strict=True):
        tf = _token_features(tok, neg)
        feats.extend(tf)
        if prev in INTENSIFIERS and len(tf) > 1 and tf[-1].startswith("lex:"):
            feats.append(tf[-1] + "+")  # "sehr gut", "really bad"
        feats.append(f"b:{prev} {tok}")
        prev = tok
    if len(toks) > 40:
        feats.append("len:long")  # articles and long tickets read differently from tweets
    elif len(toks) < 6:
        feats.append("len:short")
    return feats
