"""Train cxlens's German sentiment model from the SB10k *train* split (CC BY 4.0).

    .venv/bin/python scripts/train_sentiment.py [--data ../shared/data/sentiment] [--out PATH]

Reproducible: same data, same features (cxlens.voice.features), a fixed seed and
scikit-learn's deterministic lbfgs solver give the same weights. The regularisation
strength is chosen by 5-fold cross-validation on the train split only (macro-F1); the dev
sets of SB10k and GermEval 2017 are never read here. Needs the dev extra (scikit-learn).

SB10k: Cieliebak, Deriu, Egger, Uzdilli (2017), "A Twitter Corpus and Benchmark Resources
for German Sentiment Analysis", SocialNLP @ EACL. Licence CC BY 4.0.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from cxlens.voice.features import text_features
from cxlens.voice.linear import CLASSES, LinearModel
from cxlens.voice.text import tokens

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sentiment"
DEFAULT_OUT = ROOT / "src" / "cxlens" / "voice" / "models" / "sentiment_de.npz"
MIN_COUNT = 2
SEED = 7


def read_sb10k(path: Path) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    labels: list[int] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3 and row[1] in CLASSES:
                texts.append(row[2])
                labels.append(CLASSES.index(row[1]))
    return texts, labels


def featurize(texts: list[str]) -> list[list[str]]:
    return [text_features(tokens(t), "de") for t in texts]


def matrix(feats: list[list[str]], vocab: dict[str, int]):  # type: ignore[no-untyped-def]
    from scipy.sparse import csr_matrix

    data: list[float] = []
    cols: list[int] = []
    ptr = [0]
    for fs in feats:
        c = Counter(vocab[f] for f in fs if f in vocab)
        cols.extend(c)
        data.extend(float(v) for v in c.values())
        ptr.append(len(cols))
    return csr_matrix((data, cols, ptr), shape=(len(feats), len(vocab)), dtype=np.float64)


def build_vocab(feats: list[list[str]]) -> dict[str, int]:
    df = Counter(f for fs in feats for f in set(fs))
    names = sorted(f for f, n in df.items() if n >= MIN_COUNT or f.startswith(("lex:", "lang:", "len:")))
    return {f: i for i, f in enumerate(names)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    train = args.data / "sb10k_train.tsv"
    if not train.exists():
        print(f"{train} not found; pass --data DIR with sb10k_train.tsv", file=sys.stderr)
        return 2
    texts, labels = read_sb10k(train)
    y = np.asarray(labels)
    feats = featurize(texts)
    t0 = time.perf_counter()
    best: tuple[float, float] = (-1.0, 1.0)
    for c in (0.1, 0.2, 0.5, 1.0):
        scores = []
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=SEED).split(texts, y):
            vocab = build_vocab([feats[i] for i in tr])
            clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            clf.fit(matrix([feats[i] for i in tr], vocab), y[tr])
            pred = clf.predict(matrix([feats[i] for i in te], vocab))
            scores.append(f1_score(y[te], pred, average="macro"))
        cv = float(np.mean(scores))
        print(f"C={c}: 5-fold CV macro-F1 on SB10k train {cv:.3f}")
        if cv > best[0]:
            best = (cv, c)
    vocab = build_vocab(feats)
    clf = LogisticRegression(C=best[1], class_weight="balanced", max_iter=2000)
    clf.fit(matrix(feats, vocab), y)
    meta = (f"SB10k train ({len(texts)} tweets, CC BY 4.0, Cieliebak et al. 2017); "
            f"C={best[1]}, CV macro-F1 {best[0]:.3f}; {len(vocab)} features")
    LinearModel(vocab, clf.coef_.T.astype(np.float32), clf.intercept_.astype(np.float32), meta).save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.0f} s: {meta}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
