"""Adapt sentiment to a workspace's own domain from feedback that came with a score.

A review with 2 stars or an NPS answer of 3 is a label for its text. An adapter is a
residual linear layer over the same sparse features: final logits = shipped model's
logits + adapter's, so with no evidence it changes nothing and with enough it learns
the shop's words ("Versandkosten", a product name that is always praised). It is fit by
full-batch gradient descent (Adam, L2) in NumPy on 80 % of the labelled texts; the other
20 % (chosen by a hash of the feedback id, so the split is stable) measure macro-F1
before and after, and both numbers are stored with the adapter.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from cxlens.errors import ValidationError
from cxlens.voice.evaluate import score
from cxlens.voice.linear import CLASSES, F32, LinearModel, softmax
from cxlens.voice.sentiment import base_logits, feature_names, prepare

MIN_LABELLED: Final = 30
MIN_COUNT: Final = 2
HOLDOUT: Final = 0.2


@dataclass(frozen=True, slots=True)
class AdaptReport:
    labelled: int
    train: int
    holdout: int
    features: int
    macro_f1_before: float
    macro_f1_after: float
    accuracy_before: float
    accuracy_after: float
    path: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def label_from_score(kind: str | None, score_: float | None, scale_max: float | None) -> str | None:
    """The sentiment class a score implies, or None when it implies none (e.g. CES)."""
    if score_ is None or score_ != score_:
        return None
    kind = (kind or "").lower()
    if kind == "nps":  # 0-6 detractor, 7-8 passive, 9-10 promoter
        return "negative" if score_ <= 6 else "neutral" if score_ <= 8 else "positive"
    if kind == "ces":  # effort scales point both ways between tools: no label
        return None
    top = scale_max if scale_max and scale_max > 0 else 5.0
    if top <= 1:
        return None
    if top == 5:  # stars / CSAT: 1-2 bad, 3 middling, 4-5 good
        return "negative" if score_ <= 2 else "neutral" if score_ < 4 else "positive"
    share = (score_ - 1) / (top - 1) if top > 1 else score_
    return "negative" if share < 0.4 else "neutral" if share < 0.7 else "positive"


def in_holdout(key: str) -> bool:
    return hashlib.blake2b(key.encode(), digest_size=2).digest()[0] < int(256 * HOLDOUT)


def fit(texts: Sequence[str], labels: Sequence[str], languages: Sequence[str | None] | None = None,
        *, l2: float = 1e-3, steps: int = 250, lr: float = 0.05) -> LinearModel:
    """A residual adapter for these labelled texts."""
    p = prepare(texts, languages)
    base = base_logits(p)
    names_of = feature_names(p)
    df = Counter(f for fs in names_of for f in set(fs))
    names = sorted(f for f, n in df.items() if n >= MIN_COUNT)
    vocab = {f: i for i, f in enumerate(names)}
    y = np.array([CLASSES.index(x) for x in labels])
    onehot = np.eye(len(CLASSES), dtype=np.float32)[y]
    idx_rows: list[int] = []
    idx_cols: list[int] = []
    for r, fs in enumerate(names_of):
        for f in fs:
            j = vocab.get(f)
            if j is not None:
                idx_rows.append(r)
                idx_cols.append(j)
    rows = np.asarray(idx_rows, dtype=np.int64)
    cols = np.asarray(idx_cols, dtype=np.int64)
    nf = len(vocab)
    w = np.zeros((nf, len(CLASSES)), dtype=np.float32)
    b = np.zeros(len(CLASSES), dtype=np.float32)
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b, v_b = np.zeros_like(b), np.zeros_like(b)
    n = max(len(y), 1)
    # class weights like scikit-learn's "balanced": rare classes must not be ignored
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float32)
    cw = np.where(counts > 0, n / (len(CLASSES) * np.maximum(counts, 1)), 0.0).astype(np.float32)
    sw = cw[y][:, None]
    for t in range(1, steps + 1):
        z = base.copy()
        if nf:
            np.add.at(z, rows, w[cols])
        z += b
        d = (softmax(z) - onehot) * sw / n
        g_w = np.stack([np.bincount(cols, weights=d[rows, k], minlength=nf) for k in range(len(CLASSES))],
                       axis=1).astype(np.float32) + l2 * w
        g_b = d.sum(axis=0)
        for param, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            param -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return LinearModel(vocab, w, b, meta=f"adapter over {len(y)} labelled texts")


def predict(texts: Sequence[str], adapter: LinearModel | None) -> list[str]:
    p = prepare(texts)
    z: F32 = base_logits(p)
    if adapter is not None:
        z = z + adapter.logits(feature_names(p))
    return [CLASSES[int(i)] for i in z.argmax(axis=1)]


def adapt(ids: Sequence[str], texts: Sequence[str], labels: Sequence[str], dest: Path) -> AdaptReport:
    """Fit on the non-holdout part, measure on the holdout, store adapter + report."""
    if len(texts) < MIN_LABELLED:
        raise ValidationError(
            f"only {len(texts)} feedback texts come with a score; adaptation needs at least "
            f"{MIN_LABELLED} (import reviews or NPS answers with text first)"
        )
    hold = [in_holdout(i) for i in ids]
    tr = [k for k, h in enumerate(hold) if not h]
    te = [k for k, h in enumerate(hold) if h]
    adapter = fit([texts[k] for k in tr], [labels[k] for k in tr])
    gold = [labels[k] for k in te]
    before = score(gold, predict([texts[k] for k in te], None))
    after = score(gold, predict([texts[k] for k in te], adapter))
    adapter.save(dest)
    report = AdaptReport(len(texts), len(tr), len(te), len(adapter.vocab), before.macro_f1,
                         after.macro_f1, before.accuracy, after.accuracy, str(dest))
    dest.with_suffix(".json").write_text(json.dumps(report.to_dict(), indent=2))
    return report
