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


class Indexer:
    """``text_features`` mapped straight to a model's vocabulary indices.

    Same features, same order, but unknown ones are dropped as they arise and each
    distinct token's indices are computed once, which more than halves the cost of
    featurising a large batch. ``tests/voice`` checks it against ``text_features``."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self._tok: dict[tuple[str, bool], tuple[tuple[int, ...], int | None]] = {}
        self._lang = {lang: vocab.get(f"lang:{lang}") for lang in ("de", "en")}
        self._long = vocab.get("len:long")
        self._short = vocab.get("len:short")

    def _token(self, tok: str, neg: bool) -> tuple[tuple[int, ...], int | None]:
        key = (tok, neg)
        hit = self._tok.get(key)
        if hit is None:
            names = _token_features(tok, neg)
            get = self.vocab.get
            idx = tuple(i for i in map(get, names) if i is not None)
            boosted = get(names[-1] + "+") if names[-1].startswith("lex:") else None
            hit = (idx, boosted)
            if len(self._tok) < 500_000:
                self._tok[key] = hit
        return hit

    def indices(self, toks: list[str], language: str) -> list[int]:
        out: list[int] = []
        li = self._lang.get(language)
        if li is not None:
            out.append(li)
        get = self.vocab.get
        prev = "<s>"
        for tok, neg in zip(toks, negation_marks(toks), strict=True):
            idx, boosted = self._token(tok, neg)
            out.extend(idx)
            if boosted is not None and prev in INTENSIFIERS:
                out.append(boosted)
            b = get("b:" + prev + " " + tok)
            if b is not None:
                out.append(b)
            prev = tok
        n = len(toks)
        extra = self._long if n > 40 else self._short if n < 6 else None
        if extra is not None:
            out.append(extra)
        return out
