"""Sentiment quality of cxlens.voice against the offline baselines a user would pick.

    .venv/bin/python benchmarks/voice_eval.py [--data ../shared/data/sentiment] [--json]

Three classes (negative / neutral / positive), accuracy and macro-F1 on SB10k dev (German
tweets, CC BY 4.0) and GermEval 2017 dev (Deutsche Bahn feedback, CC BY-NC 4.0, used for
evaluation only), all systems in the same run. Baselines (dev extra): gersent (SentiWS
word weights; composite > 0 positive, < 0 negative, else neutral), textblob-de 0.4.3 with
textblob 0.17.1 and its PatternTokenizer (polarity sign), and VADER (English-only,
compound ±0.05), which is what a user without a German tool ends up running.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cxlens.voice.evaluate import read_germeval, read_sb10k, score
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sets = {
        "SB10k dev": read_sb10k(args.data / "sb10k_dev.tsv"),
        "GermEval 2017 dev": read_germeval(args.data / "germeval2017_dev.tsv"),
    }
    systems: dict[str, Callable[[list[str]], list[str]]] = {
        "cxlens.voice": lambda ts: [s.label for s in sentiment_batch(ts, "de")],
        **baselines(),
    }
    rows = []
    for sname, (texts, gold) in sets.items():
        for name, fn in systems.items():
            t0 = time.perf_counter()
            pred = fn(texts)
            secs = time.perf_counter() - t0
            s = score(gold, pred)
            rows.append({"set": sname, "system": name, "n": s.n, "accuracy": round(s.accuracy, 3),
                         "macro_f1": round(s.macro_f1, 3), "seconds": round(secs, 2)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print("| set | system | n | accuracy | macro-F1 | seconds |\n|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['set']} | {r['system']} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {r['seconds']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
