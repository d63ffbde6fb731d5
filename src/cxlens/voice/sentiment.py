"""Sentiment of customer texts, offline, German and English.

German texts go through cxlens's own linear model (``models/sentiment_de.npz``, trained
from SB10k by ``scripts/train_sentiment.py``). English texts are scored by VADER
(vaderSentiment, MIT), a rule-based analyser with its own lexicon, because no English
training data ships with cxlens. Both give per-class logits, so a workspace's adapter
(see :mod:`cxlens.voice.adapt`) can add its domain weights on top of either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np

from cxlens.voice.features import Indexer, text_features
from cxlens.voice.language import LANGUAGES, detect_language_tokens
from cxlens.voice.linear import CLASSES, F32, LinearModel, softmax
from cxlens.voice.text import tokens

MODEL_PATH: Final = Path(__file__).with_name("models") / "sentiment_de.npz"
#: VADER's own convention: compound within ±0.05 is neutral
_VADER_NEUTRAL: Final = 0.05
#: scale that turns VADER's compound (-1..1) into logits comparable to the German model's
_VADER_SCALE: Final = 2.5
#: a "sqrt"-normalised German model's cue weights are divided by the square root of this
#: for English, where they are added to VADER as a plain sum. 11 gives them the size the
#: plain-sum model's cue weights had (lex:neg 1.04 to negative); there is no English
#: training set to fit it on, so it keeps the English behaviour as it was
_TYPICAL_FEATURES: Final = 11


@dataclass(frozen=True, slots=True)
class Sentiment:
    label: str  # negative | neutral | positive
    #: -1 (very negative) … +1 (very positive): P(positive) - P(negative)
    score: float
    language: str  # de | en
    confidence: float  # probability of the chosen label

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 4), "language": self.language,
                "confidence": round(self.confidence, 4)}


@cache
def german_model() -> LinearModel:
    return LinearModel.load(MODEL_PATH)


@cache
def cue_model() -> LinearModel:
    """Only the language-neutral part of the German model: the learned weights of the cue
    list features (``lex:*``). English texts get these on top of VADER, whose lexicon
    misses customer-service words such as "late" or "refund"."""
    m = german_model()
    keep = sorted(i for f, i in m.vocab.items() if f.startswith("lex:"))
    vocab = {f: keep.index(i) for f, i in m.vocab.items() if i in keep}
    weights = m.weights[keep]
    if m.norm == "sqrt":
        weights = (weights / np.sqrt(_TYPICAL_FEATURES)).astype(np.float32)
    return LinearModel(vocab, weights, np.zeros_like(m.bias), "cue weights of " + m.meta)


@cache
def _vader() -> Any:
    from cxlens.errors import require

    mod: Any = require("vaderSentiment.vaderSentiment", "voice-bench")
    return mod.SentimentIntensityAnalyzer()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch tokenised, language-tagged and featurised once, for scoring and aspects."""

    texts: Sequence[str]
    toks: list[list[str]]
    languages: list[str]


def feature_names(p: Prepared) -> list[list[str]]:
    """The named features of each text (what adapters are fit on and scored with)."""
    return [text_features(tk, lg) for tk, lg in zip(p.toks, p.languages, strict=True)]


@cache
def _indexer(which: str) -> Indexer:
    return Indexer((german_model() if which == "de" else cue_model()).vocab)


def prepare(texts: Sequence[str], languages: Sequence[str | None] | str | None = None,
            default_language: str = "de") -> Prepared:
    from cxlens.errors import ValidationError

    if isinstance(languages, str) or languages is None:
        langs: Sequence[str | None] = [languages] * len(texts)
    else:
        langs = languages
        if len(langs) != len(texts):
            raise ValidationError(f"got {len(texts)} texts but {len(langs)} languages; pass one per text")
    toks = [tokens(t or "") for t in texts]
    out_langs: list[str] = []
    for tk, lang in zip(toks, langs, strict=True):
        if lang is None or lang == "":
            lang = detect_language_tokens(tk, default_language)
        elif lang not in LANGUAGES:
            raise ValidationError(f"language {lang!r} is not supported; use one of {', '.join(LANGUAGES)} or leave it out")
        out_langs.append(lang)
    return Prepared(texts, toks, out_langs)


def base_logits(p: Prepared) -> F32:
    """Per-class logits of the shipped models, before any workspace adaptation."""
    n = len(p.texts)
    out = np.zeros((n, len(CLASSES)), dtype=np.float32)
    de = [i for i, lg in enumerate(p.languages) if lg == "de"]
    en = [i for i, lg in enumerate(p.languages) if lg == "en"]
    if de:
        ix = _indexer("de")
        out[de] = german_model().logits_of_indices([ix.indices(p.toks[i], "de") for i in de])
    if en:
        va = _vader()
        comp = np.array([va.polarity_scores(p.texts[i] or "")["compound"] for i in en], dtype=np.float32)
        # neutral wins inside VADER's ±0.05 band, the sign's class outside it
        out[en, 0] = -_VADER_SCALE * comp
        out[en, 2] = _VADER_SCALE * comp
        out[en, 1] = _VADER_SCALE * _VADER_NEUTRAL
        cx = _indexer("en")
        out[en] += cue_model().logits_of_indices([cx.indices(p.toks[i], "en") for i in en])
    return out


def results(p: Prepared, logits: F32) -> list[Sentiment]:
    probs = softmax(logits)
    best = probs.argmax(axis=1)
    score = probs[:, 2] - probs[:, 0]
    return [
        Sentiment(CLASSES[int(b)], float(s), lg, float(pr[b]))
        for b, s, lg, pr in zip(best, score, p.languages, probs, strict=True)
    ]


def sentiment_batch(texts: Sequence[str], languages: Sequence[str | None] | str | None = None,
                    *, adapter: LinearModel | None = None, default_language: str = "de") -> list[Sentiment]:
    """Sentiment of many texts at once (much faster per text than one by one)."""
    p = prepare(texts, languages, default_language)
    logits = base_logits(p)
    if adapter is not None:
        logits = logits + adapter.logits(feature_names(p))
    return results(p, logits)


def sentiment(text: str, language: str | None = None, *, adapter: LinearModel | None = None) -> Sentiment:
    """Sentiment of one text; the language is detected when not given."""
    return sentiment_batch([text], language, adapter=adapter)[0]
