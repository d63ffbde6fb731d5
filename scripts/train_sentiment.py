"""Train cxlens's German sentiment model from the SB10k *train* split (CC BY 4.0).

    .venv/bin/python scripts/train_sentiment.py [--data ../shared/data/sentiment] [--out PATH]
        [--grid sqrt:4,8]   # a smaller CV grid (the shipped model: sqrt:4,8, on a loaded box)

Steps, all reproducible (same data, fixed folds, scikit-learn's deterministic lbfgs):

1. The German polarity lexicon that textblob-de ships (``textblob_de/data/de-sentiment.xml``,
   Klenner et al. 2010, Apache License 2.0) is read from the installed package and stored
   as ``models/polarity_de.npz`` (word, sign, noun or not); the features use it.
2. Features (cxlens.voice.features) of the SB10k train tweets; class-balanced logistic
   regression. The regularisation strength and the row normalisation (plain counts or
   divided by sqrt(number of features)) are chosen by 5-fold cross-validation on the
   train split (macro-F1).
3. A neutral offset added to the neutral logit, chosen on the same folds' out-of-fold
   logits (macro-F1), because balanced class weights make neutral, the largest class,
   too rare a prediction.

The dev sets of SB10k and GermEval 2017 are never read here. Needs the voice-bench extra
(scikit-learn, scipy, textblob-de).

SB10k: Cieliebak, Deriu, Egger, Uzdilli (2017), "A Twitter Corpus and Benchmark Resources
for German Sentiment Analysis", SocialNLP @ EACL. Licence CC BY 4.0.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from cxlens.voice import features, lexicon
from cxlens.voice.linear import CLASSES, LinearModel, row_scale
from cxlens.voice.text import tokens

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sentiment"
DEFAULT_OUT = ROOT / "src" / "cxlens" / "voice" / "models" / "sentiment_de.npz"
MIN_COUNT = 2
SEED = 7
#: row normalisation → regularisation strengths tried (scaled rows need a larger C)
GRID = {"sum": (0.25, 0.5, 1.0), "sqrt": (1.0, 2.0, 4.0, 8.0)}
OFFSETS = tuple(round(x, 2) for x in np.arange(-1.0, 1.01, 0.1))
ALWAYS = ("lex:", "lang:", "len:", "gl", "pol:", "cx:")


def read_sb10k(path: Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3 and row[1] in CLASSES:
                texts.append(row[2])
                labels.append(CLASSES.index(row[1]))
    return texts, labels


def build_lexicon(out: Path) -> str:
    """textblob-de's German polarity lexicon → ``polarity_de.npz``; returns its provenance."""
    import textblob_de

    xml = Path(textblob_de.__file__).parent / "data" / "de-sentiment.xml"
    pols: dict[str, list[float]] = defaultdict(list)
    noun: set[str] = set()
    for w in ET.parse(xml).getroot().iter("word"):
        form = (w.get("form") or "").strip()
        if not form or " " in form:
            continue
        pols[form.lower()].append(float(w.get("polarity") or 0))
        if w.get("pos") == "NN":
            noun.add(form.lower())
    words = {f: 1 if np.mean(v) > 0 else -1 for f, v in pols.items() if np.mean(v) != 0}
    meta = (f"German Polarity Lexicon, Klenner, Clematide, Wiegand, Peters (2010), as shipped by "
            f"textblob-de {textblob_de.__version__} (Apache License 2.0): {len(words)} words with a sign")
    lexicon.Lexicon(words, frozenset(noun & set(words))).save(out, meta)
    lexicon.german_lexicon.cache_clear()
    features._token_cache.clear()
    return meta


def featurize(texts: list[str]) -> list[list[str]]:
    return [features.text_features(tokens(t), "de") for t in texts]


def matrix(feats: list[list[str]], vocab: dict[str, int], norm: str) -> Any:
    from scipy.sparse import csr_matrix

    data: list[float] = []
    cols: list[int] = []
    ptr = [0]
    for fs in feats:
        c = Counter(vocab[f] for f in fs if f in vocab)
        s = row_scale(sum(c.values()), norm)
        cols.extend(c)
        data.extend(float(v) * s for v in c.values())
        ptr.append(len(cols))
    return csr_matrix((data, cols, ptr), shape=(len(feats), len(vocab)), dtype=np.float64)


def build_vocab(feats: list[list[str]]) -> dict[str, int]:
    df = Counter(f for fs in feats for f in set(fs))
    names = sorted(f for f, n in df.items() if n >= MIN_COUNT or f.startswith(ALWAYS))
    return {f: i for i, f in enumerate(names)}


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, average="macro"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--grid", default="",
                    help="restrict the CV grid, e.g. 'sqrt:4,8' (default: all of GRID); for quick comparisons")
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    train = args.data / "sb10k_train.tsv"
    if not train.exists():
        print(f"{train} not found; pass --data DIR with sb10k_train.tsv", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    lex_meta = build_lexicon(args.out.with_name("polarity_de.npz"))
    print(lex_meta)
    texts, labels = read_sb10k(train)
    y = np.asarray(labels)
    feats = featurize(texts)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=SEED).split(texts, y))
    fold_vocab = [build_vocab([feats[i] for i in tr]) for tr, _ in folds]

    def fit(c: float, norm: str, rows: Any, vocab: dict[str, int]) -> Any:
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
        return clf.fit(matrix([feats[i] for i in rows], vocab, norm), y[rows])

    grid = GRID
    if args.grid:
        norm_, _, cs_ = args.grid.partition(":")
        grid = {norm_: tuple(float(c) for c in cs_.split(","))}
    best: tuple[float, float, str, np.ndarray] | None = None
    for norm, cs in grid.items():
        for c in cs:
            oof = np.zeros((len(y), len(CLASSES)))
            for (tr, te), vocab in zip(folds, fold_vocab, strict=True):
                oof[te] = fit(c, norm, tr, vocab).decision_function(matrix([feats[i] for i in te], vocab, norm))
            cv = macro_f1(y, oof.argmax(axis=1))
            print(f"norm={norm} C={c}: 5-fold CV macro-F1 on SB10k train {cv:.3f}", flush=True)
            if best is None or cv > best[0]:
                best = (cv, c, norm, oof)
    assert best is not None
    cv, c, norm, oof = best
    shift = np.zeros(len(CLASSES))
    offsets = []
    for off in OFFSETS:
        shift[1] = off
        offsets.append((macro_f1(y, (oof + shift).argmax(axis=1)), -abs(off), off))
    cv_off, _, offset = max(offsets)
    print(f"neutral offset {offset:+.1f}: CV macro-F1 {cv_off:.3f} (without: {cv:.3f})")
    vocab = build_vocab(feats)
    clf = fit(c, norm, np.arange(len(y)), vocab)
    bias = clf.intercept_.astype(np.float32)
    bias[1] += offset
    meta = (f"SB10k train ({len(texts)} tweets, CC BY 4.0, Cieliebak et al. 2017); lexicon: {lex_meta}; "
            f"C={c}, norm={norm}, neutral offset {offset:+.1f}; CV macro-F1 {cv_off:.3f}; {len(vocab)} features")
    LinearModel(vocab, clf.coef_.T.astype(np.float32), bias, meta, norm).save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.0f} s: {meta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
