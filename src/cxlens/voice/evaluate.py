"""Accuracy and macro-F1 for three-class sentiment, and readers for the public test sets.

Kept in the package (not only in the benchmark) because a workspace's adaptation
reports before/after scores with the same metric the benchmark uses.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxlens.voice.linear import CLASSES


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    accuracy: float
    macro_f1: float


def score(gold: Sequence[str], pred: Sequence[str]) -> Scores:
    g = np.array([CLASSES.index(x) for x in gold])
    p = np.array([CLASSES.index(x) for x in pred])
    f1s = []
    # like scikit-learn: average over the classes that occur in gold or prediction
    for k in sorted(set(g.tolist()) | set(p.tolist())):
        tp = float(np.sum((g == k) & (p == k)))
        fp = float(np.sum((g != k) & (p == k)))
        fn = float(np.sum((g == k) & (p != k)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    acc = float(np.mean(g == p)) if len(g) else 0.0
    return Scores(len(g), acc, float(np.mean(f1s)))


def read_sb10k(path: Path) -> tuple[list[str], list[str]]:
    """SB10k TSV (id, label, text, …) → texts, labels."""
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 3 and row[1] in CLASSES:
                texts.append(row[2])
                labels.append(row[1])
    return texts, labels


def read_germeval(path: Path) -> tuple[list[str], list[str]]:
    """GermEval 2017 TSV (url, text, relevance, polarity, aspects) → texts, labels."""
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 4 and row[3] in CLASSES:
                texts.append(row[1])
                labels.append(row[3])
    return texts, labels
