"""Sparse features of one text for the linear sentiment model.

A text becomes a bag of named features: words (marked when a negator's scope covers them,
so "nicht gut" is not "gut"), six-letter stems (German inflects: "verspätet",
"Verspätung"), the last six letters of long words (a German compound's head:
"Lieferverzögerung"), word pairs, the cue lists of :mod:`cxlens.voice.text`, the German
polarity lexicon of :mod:`cxlens.voice.lexicon` (with compound heads: "Signalstörung")
and the service failure / recovery words of :mod:`cxlens.voice.cxlexicon`, all flipped
by negation and boosted by intensifiers, emoji and punctuation, and a flag
for texts without any polar word (news-style reports are mostly neutral). The training
script and the runtime call the same function, so a model and its features can never
disagree.
"""

from __future__ import annotations

from typing import Final

from cxlens.voice.cxlexicon import cx_polarity
from cxlens.voice.lexicon import german_lexicon
from cxlens.voice.text import INTENSIFIERS, negation_marks, polarity

STEM_LEN: Final = 6
#: text-level flag: no cue word, lexicon word, emoji or emoticon at all
NO_POLAR: Final = "pol:none"

#: (features of the token, how many of them are polar and may be boosted: the last ones)
_token_cache: dict[tuple[str, bool], tuple[tuple[str, ...], int]] = {}


def _polar(name: str, p: int) -> str:
    return name + (":pos" if p > 0 else ":neg")


def _token_features(tok: str, negated: bool) -> tuple[tuple[str, ...], int]:
    key = (tok, negated)
    hit = _token_cache.get(key)
    if hit is not None:
        return hit
    mark = "~" if negated else ""
    out = [f"w:{mark}{tok}"]
    if len(tok) > STEM_LEN + 1 and tok.isalpha():
        out.append(f"s:{mark}{tok[:STEM_LEN]}")
    if len(tok) >= 10 and tok.isalpha():  # a German compound's head: its last six letters
        out.append(f"x:{mark}{tok[-6:]}")
    sign = -1 if negated else 1
    n_polar = 0
    p = polarity(tok)
    if p:
        out.append(_polar("lex", sign * p))
        n_polar += 1
    gp, how = german_lexicon().polarity(tok)
    if gp:
        out.append(_polar("gl" + how, sign * gp))  # "glw:neg" word, "glh:neg" compound head
        n_polar += 1
    cp = cx_polarity(tok)
    if cp:
        out.append(_polar("cx", sign * cp))  # a service failure or its recovery
        n_polar += 1
    hit = (tuple(out), n_polar)
    if len(_token_cache) < 500_000:
        _token_cache[key] = hit
    return hit


def text_features(toks: list[str], language: str) -> list[str]:
    """Feature names of one tokenised text (repeats count)."""
    feats = [f"lang:{language}"]
    marks = negation_marks(toks)
    prev = "<s>"
    any_polar = False
    for tok, neg in zip(toks, marks, strict=True):
        tf, n_polar = _token_features(tok, neg)
        feats.extend(tf)
        if n_polar:
            any_polar = True
            if prev in INTENSIFIERS:  # "sehr gut", "really bad"
                feats.extend(f + "+" for f in tf[-n_polar:])
        feats.append(f"b:{prev} {tok}")
        prev = tok
    if len(toks) > 40:
        feats.append("len:long")  # articles and long tickets read differently from tweets
    elif len(toks) < 6:
        feats.append("len:short")
    if not any_polar:
        feats.append(NO_POLAR)
    return feats


class Indexer:
    """``text_features`` mapped straight to a model's vocabulary indices.

    Same features, same order, but unknown ones are dropped as they arise and each
    distinct token's indices are computed once, which more than halves the cost of
    featurising a large batch. ``tests/voice`` checks it against ``text_features``."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        #: per (token, negated): its feature indices, boosted indices, whether it is polar
        self._tok: dict[tuple[str, bool], tuple[tuple[int, ...], tuple[int, ...], bool]] = {}
        self._lang = {lang: vocab.get(f"lang:{lang}") for lang in ("de", "en")}
        self._long = vocab.get("len:long")
        self._short = vocab.get("len:short")
        self._no_polar = vocab.get(NO_POLAR)

    def _token(self, tok: str, neg: bool) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
        key = (tok, neg)
        hit = self._tok.get(key)
        if hit is None:
            names, n_polar = _token_features(tok, neg)
            get = self.vocab.get
            idx = tuple(i for i in map(get, names) if i is not None)
            boosted = tuple(i for i in (get(f + "+") for f in names[len(names) - n_polar:]) if i is not None)
            hit = (idx, boosted, n_polar > 0)
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
        any_polar = False
        for tok, neg in zip(toks, negation_marks(toks), strict=True):
            idx, boosted, polar = self._token(tok, neg)
            out.extend(idx)
            if polar:
                any_polar = True
                if boosted and prev in INTENSIFIERS:
                    out.extend(boosted)
            b = get("b:" + prev + " " + tok)
            if b is not None:
                out.append(b)
            prev = tok
        n = len(toks)
        extra = self._long if n > 40 else self._short if n < 6 else None
        if extra is not None:
            out.append(extra)
        if not any_polar and self._no_polar is not None:
            out.append(self._no_polar)
        return out
