"""A multinomial linear model over named sparse features, stored as a small ``.npz``.

Scoring needs only NumPy: each text's known features are looked up in the vocabulary,
their weight rows gathered and summed per text with one ``np.add.reduceat`` over the
whole batch. With ``norm="sqrt"`` the sum is divided by the square root of the number of
known features, so a long article does not pile up evidence that a tweet cannot (the
training script scales its rows the same way). The training script (scikit-learn, a dev dependency) and the per-workspace
adaptation both produce this same file format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

CLASSES: Final = ("negative", "neutral", "positive")

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class LinearModel:
    vocab: dict[str, int]
    #: (n_features, n_classes)
    weights: F32
    bias: F32
    #: free-form provenance (training data, date, scores) stored with the weights
    meta: str = ""
    #: "sum" of the features' weights, or "sqrt": the sum over sqrt(number of features)
    norm: str = "sum"

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            names = [str(s) for s in z["vocab"]]
            return cls(
                vocab={n: i for i, n in enumerate(names)},
                weights=z["weights"].astype(np.float32),
                bias=z["bias"].astype(np.float32),
                meta=str(z["meta"]) if "meta" in z.files else "",
                norm=str(z["norm"]) if "norm" in z.files else "sum",
            )

    def save(self, path: Path) -> None:
        names = sorted(self.vocab, key=self.vocab.__getitem__)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp, vocab=np.array(names, dtype=np.str_), weights=self.weights.astype(np.float16),
            bias=self.bias, meta=np.array(self.meta), norm=np.array(self.norm),
        )
        tmp.replace(path)

    def indices(self, feats: Sequence[str]) -> list[int]:
        get = self.vocab.get
        return [i for i in map(get, feats) if i is not None]

    def logits(self, batch: Sequence[Sequence[str]]) -> F32:
        """(len(batch), n_classes) raw scores of texts given as feature names."""
        return self.logits_of_indices([self.indices(feats) for feats in batch])

    def logits_of_indices(self, batch: Sequence[Sequence[int]]) -> F32:
        """(len(batch), n_classes) raw scores of texts given as vocabulary indices."""
        n = len(batch)
        out = np.tile(self.bias, (n, 1)).astype(np.float32)
        if n == 0:
            return out
        idx: list[int] = []
        starts = np.empty(n, dtype=np.int64)
        rows: list[int] = []
        for r, ix in enumerate(batch):
            if ix:
                starts[len(rows)] = len(idx)
                rows.append(r)
                idx.extend(ix)
        if rows:
            gathered = self.weights[np.asarray(idx, dtype=np.int64)]
            sums = np.add.reduceat(gathered, starts[: len(rows)], axis=0)
            if self.norm == "sqrt":
                counts = np.diff(np.append(starts[: len(rows)], len(idx)))
                sums /= np.sqrt(counts, dtype=np.float32)[:, None]
            out[rows] += sums
        return out


def row_scale(n_features: int, norm: str) -> float:
    """What one text's feature counts are multiplied by (training and scoring agree)."""
    return 1.0 / float(np.sqrt(n_features)) if norm == "sqrt" and n_features else 1.0


def softmax(z: F32) -> F32:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    out: F32 = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out
