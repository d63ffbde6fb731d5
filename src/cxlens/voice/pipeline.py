"""Language, sentiment and aspects of many texts in one pass, and the topic report.

``analyze_texts`` is pure: texts in, a typed result out. The workspace side (reading the
feedback table, writing ``feedback_analysis``) lives in :mod:`cxlens.voice.workspace`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cxlens.voice.aspects import (
    AspectStats,
    Mention,
    aggregate,
    candidate_terms,
    clauses,
    discover_from_docs,
    seed_mentions,
    stats,
    summary,
)
from cxlens.voice.linear import LinearModel
from cxlens.voice.sentiment import Prepared, Sentiment, base_logits, feature_names, prepare, results


@dataclass(frozen=True, slots=True)
class TextAnalysis:
    sentiments: list[Sentiment]
    #: per text: (mention, label of the mention)
    mentions: list[list[tuple[Mention, str]]]


def _score(p: Prepared, adapter: LinearModel | None) -> list[Sentiment]:
    logits = base_logits(p)
    if adapter is not None:
        logits = logits + adapter.logits(feature_names(p))
    return results(p, logits)


def analyze_texts(texts: Sequence[str], languages: Sequence[str | None] | str | None = None, *,
                  adapter: LinearModel | None = None, discover: bool = True,
                  min_df: int = 3) -> TextAnalysis:
    p = prepare(texts, languages)
    sents = _score(p, adapter)
    per_text = [seed_mentions(tk) for tk in p.toks]
    if discover:
        docs = [candidate_terms(t, lg) for t, lg in zip(p.texts, p.languages, strict=True)]
        topic_of = discover_from_docs(docs, min_df=min_df)
        if topic_of:
            for i, doc in enumerate(docs):
                heads = {topic_of[term] for term in doc if term in topic_of}
                per_text[i].extend(Mention(h, None, -1) for h in sorted(heads))
    # texts that talk about several aspects in different clauses get per-clause sentiment
    jobs: list[tuple[int, int]] = []
    clause_texts: list[list[str]] = []
    clause_langs: list[str] = []
    for i, ms in enumerate(per_text):
        if len({m.clause for m in ms if m.clause >= 0}) > 1:
            for ci, cl in enumerate(clauses(p.toks[i])):
                jobs.append((i, ci))
                clause_texts.append(cl)
                clause_langs.append(p.languages[i])
    clause_label: dict[tuple[int, int], str] = {}
    if jobs:
        cp = Prepared([" ".join(c) for c in clause_texts], clause_texts, clause_langs)
        for job, s in zip(jobs, _score(cp, adapter), strict=True):
            clause_label[job] = s.label
    mentions = [
        [(m, clause_label.get((i, m.clause), sents[i].label)) for m in ms]
        for i, ms in enumerate(per_text)
    ]
    return TextAnalysis(sents, mentions)


@dataclass(frozen=True, slots=True)
class TouchpointTopics:
    touchpoint: str
    texts: int
    summary: str
    aspects: list[AspectStats]

    def to_dict(self) -> dict[str, Any]:
        return {"touchpoint": self.touchpoint, "texts": self.texts, "summary": self.summary,
                "aspects": [a.to_dict() for a in self.aspects]}


def topic_report(analysis: TextAnalysis, touchpoints: Sequence[str | None],
                 language: str = "de") -> list[TouchpointTopics]:
    """Aspects with sentiment counts and a praise/criticism line, per touchpoint and overall."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, tp in enumerate(touchpoints):
        groups[tp or "(none)"].append(i)
    out = []
    for tp, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        st = stats(aggregate([analysis.mentions[i] for i in idx]), language)
        out.append(TouchpointTopics(tp, len(idx), summary(st, language), st))
    if len(groups) > 1:
        st = stats(aggregate(analysis.mentions), language)
        out.insert(0, TouchpointTopics("all", len(touchpoints), summary(st, language), st))
    return out
