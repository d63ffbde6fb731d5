"""Sentiment quality of cxlens.voice against the offline baselines a user would pick.

    .venv/bin/python benchmarks/voice_eval.py [--data ../shared/data/sentiment] [--json]

Three classes (negative / neutral / positive), accuracy and macro-F1 on SB10k dev (German
tweets, CC BY 4.0) and GermEval 2017 dev (Deutsche Bahn feedback, CC BY-NC 4.0, used for
evaluation only), all systems in the same run. Baselines (dev extra): gersent (SentiWS
word weights; composite > 0 positive, < 0 negative, else neutral), textblob-de 0.4.3 with
textblob 0.17.1 and its PatternTokenizer (polarity sign), and VADER (English-only,
compound ±0.05), which is what a user without a German tool ends up running.

A separate line measures the switchable domain adaptation (``cxlens voice adapt``, the
residual adapter learnt from a user's own scored texts) by 5-fold cross-validation on
GermEval 2017 dev: an adapter is fit on four folds and scores the fifth, predictions of
all five held-out folds are pooled. This evaluates the adaptation feature only; no
adapter is kept, and nothing shipped with cxlens is trained or tuned on GermEval.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cxlens.voice.adapt import fit as fit_adapter
from cxlens.voice.evaluate import read_germeval, read_sb10k, score
from cxlens.voice.linear import CLASSES
from cxlens.voice.sentiment import sentiment_batch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentiment"


def _sign(x: float, eps: float = 0.0) -> str:
    return "positive" if x > eps else "negative" if x < -eps else "neutral"


def baselines() -> dict[str, Callable[[list[str]], list[str]]]:
    out: dict[str, Callable[[list[str]], list[str]]] = {}
    try:
        from gersent import GerSent

        gs = GerSent()
        out["gersent 0.0.6"] = lambda ts: [_sign(gs.sentiment(t)["composite"]) for t in ts]
    except ImportError:
        print("gersent not installed: skipped", file=sys.stderr)
    try:
        from textblob_de import PatternTokenizer, TextBlobDE

        tok = PatternTokenizer()
        out["textblob-de 0.4.3"] = lambda ts: [_sign(TextBlobDE(t, tokenizer=tok).sentiment.polarity) for t in ts]
    except ImportError:
        print("textblob-de not installed: skipped", file=sys.stderr)
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        va = SentimentIntensityAnalyzer()
        out["VADER 3.3.2 (English)"] = lambda ts: [_sign(va.polarity_scores(t)["compound"], 0.05) for t in ts]
    except ImportError:
        print("vaderSentiment not installed: skipped", file=sys.stderr)
    return out


def adapted_kfold(texts: list[str], gold: list[str], k: int = 5, seed: int = 0) -> list[str]:
    """Held-out predictions of cxlens + an adapter fit on the other k-1 folds."""
    fold = np.random.default_rng(seed).permutation(len(texts)) % k
    pred = [""] * len(texts)
    for f in range(k):
        tr = [i for i in range(len(texts)) if fold[i] != f]
        te = [i for i in range(len(texts)) if fold[i] == f]
        adapter = fit_adapter([texts[i] for i in tr], [gold[i] for i in tr], ["de"] * len(tr))
        for i, s in zip(te, sentiment_batch([texts[i] for i in te], "de", adapter=adapter), strict=True):
            pred[i] = s.label
    return pred


def confusion(gold: list[str], pred: list[str]) -> list[list[int]]:
    """Rows gold, columns predicted, in CLASSES order (negative, neutral, positive)."""
    m = [[0] * len(CLASSES) for _ in CLASSES]
    for g, p in zip(gold, pred, strict=True):
        m[CLASSES.index(g)][CLASSES.index(p)] += 1
    return m


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-adapt", action="store_true", help="skip the 5-fold adaptation line")
    ap.add_argument("--no-baselines", action="store_true",
                    help="only cxlens.voice (the baselines' figures do not change with cxlens's model)")
    args = ap.parse_args()
    missing = [n for n in ("sb10k_dev.tsv", "germeval2017_dev.tsv") if not (args.data / n).exists()]
    if missing:
        print(f"{', '.join(missing)} not found in {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    sets = {
        "SB10k dev": read_sb10k(args.data / "sb10k_dev.tsv"),
        "GermEval 2017 dev": read_germeval(args.data / "germeval2017_dev.tsv"),
    }
    systems: dict[str, Callable[[list[str]], list[str]]] = {
        "cxlens.voice": lambda ts: [s.label for s in sentiment_batch(ts, "de")],
        **({} if args.no_baselines else baselines()),
    }
    rows = []
    for sname, (texts, gold) in sets.items():
        for name, fn in systems.items():
            t0 = time.perf_counter()
            pred = fn(texts)
            secs = time.perf_counter() - t0
            s = score(gold, pred)
            rows.append({"set": sname, "system": name, "n": s.n, "accuracy": round(s.accuracy, 3),
                         "macro_f1": round(s.macro_f1, 3), "seconds": round(secs, 2),
                         "confusion": confusion(gold, pred)})
    if not args.no_adapt:
        texts, gold = sets["GermEval 2017 dev"]
        t0 = time.perf_counter()
        pred = adapted_kfold(texts, gold)
        s = score(gold, pred)
        rows.append({"set": "GermEval 2017 dev, 5-fold", "system": "cxlens.voice + adapter (voice adapt)",
                     "n": s.n, "accuracy": round(s.accuracy, 3), "macro_f1": round(s.macro_f1, 3),
                     "seconds": round(time.perf_counter() - t0, 2), "confusion": confusion(gold, pred)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("| set | system | n | accuracy | macro-F1 | seconds |\n|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['set']} | {r['system']} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['seconds']} |")
        print("\nconfusion (rows gold, columns predicted: negative, neutral, positive)")
        for r in rows:
            print(f"  {r['set']} / {r['system']}: {r['confusion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
