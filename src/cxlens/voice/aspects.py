"""What customers talk about: aspects from a seed lexicon plus terms found in the texts,
each with its own sentiment, and a short praise/criticism summary per touchpoint.

Seed aspects (delivery, price, quality, support, website, payment, returns, packaging)
are matched by German and English word stems, so "Lieferung", "geliefert", "Lieferzeit"
and "delivery" are one aspect. Everything else frequent enough becomes a *discovered*
topic: nouns (German capitalises them; in English any non-function word) that occur in
at least ``min_df`` texts, with the terms that nearly always co-occur with them folded in.
A mention takes the sentiment of its clause when the text talks about several aspects
("Lieferung schnell, aber teuer"), otherwise the sentiment of the whole text.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cxlens.voice.language import _DE, _EN
from cxlens.voice.text import SCOPE_END, polarity

#: aspect -> (German name, English name, stems). More specific stems first: a
#: "Versandkosten" complaint is about price, not delivery.
SEEDS: Final[dict[str, tuple[str, str, tuple[str, ...]]]] = {
    "price": ("Preis", "Price", ("versandkost", "preis", "teuer", "günstig", "kosten", "gebühr", "rabatt",
                                 "gutschein", "price", "pricing", "expensive", "cheap", "cost", "fee", "discount",
                                 "overpriced", "überteuert", "shipping cost", "shippingfee")),
    "returns": ("Rücksendung", "Returns", ("rücksend", "retoure", "rückgabe", "umtausch", "erstattung",
                                           "rückerstatt", "zurückgeschickt", "return", "refund", "exchange")),
    "delivery": ("Lieferung", "Delivery", ("liefer", "geliefert", "versand", "versend", "paket", "zustell",
                                           "sendung", "spät", "verspät", "kurier", "dhl", "hermes", "ankunft",
                                           "angekommen", "deliver", "shipping", "shipped", "parcel", "package",
                                           "courier", "arrived", "tracking", "late", "delay")),
    "packaging": ("Verpackung", "Packaging", ("verpack", "karton", "packag", "packed", "box")),
    "quality": ("Qualität", "Quality", ("qualität", "verarbeit", "material", "kaputt", "defekt", "beschädigt",
                                        "haltbar", "quality", "broken", "damaged", "defect", "sturdy", "cheaply")),
    "support": ("Kundenservice", "Support", ("kundenservice", "kundendienst", "service", "support", "hotline",
                                             "mitarbeiter", "beratung", "freundlich", "antwort", "rückmeld",
                                             "staff", "agent", "helpful", "rude", "answer", "response",
                                             "customer service", "contact")),
    "website": ("Website", "Website", ("website", "webseite", "seite", "shop", "app", "suche", "filter",
                                       "navigation", "bestellprozess", "checkout", "login", "konto", "site",
                                       "page", "search", "account", "hilfeseite")),
    "payment": ("Zahlung", "Payment", ("zahlung", "bezahl", "paypal", "kreditkarte", "rechnung", "klarna",
                                       "lastschrift", "payment", "pay", "paid", "invoice", "credit card")),
}
_STEMS: Final = tuple((stem, name) for name, (_, _, stems) in SEEDS.items() for stem in stems if " " not in stem)
_ASPECT_OF: Final = {stem: name for stem, name in reversed(_STEMS)}
# the first matching stem in SEEDS order wins: alternation order keeps that in C
_PREFIX_RE: Final = re.compile("|".join(re.escape(stem) for stem, _ in _STEMS))
_INFIX_RE: Final = re.compile("|".join(re.escape(stem) for stem, _ in _STEMS if len(stem) >= 6))
_WORD_RE: Final = re.compile(r"\w+")
_STOP: Final = _DE | _EN | frozenset({"bitte", "danke", "hallo", "gruß", "grüße", "leute", "thanks", "hello"})

_seed_cache: dict[str, str | None] = {}


def seed_aspect(tok: str) -> str | None:
    a = _seed_cache.get(tok, "")
    if a == "":
        a = None
        if len(tok) >= 3:
            m = _PREFIX_RE.match(tok) or _INFIX_RE.search(tok)
            a = _ASPECT_OF[m.group()] if m else None
        if len(_seed_cache) < 300_000:
            _seed_cache[tok] = a
    return a


@dataclass(frozen=True, slots=True)
class Mention:
    aspect: str
    #: the cue word next to it ("schnell", "teuer"), when there is one
    cue: str | None
    #: position of the clause within the text (for clause-level sentiment)
    clause: int


def clauses(toks: Sequence[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for t in toks:
        if t in SCOPE_END:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(t)
    return [c for c in out if c]


def seed_mentions(toks: Sequence[str]) -> list[Mention]:
    """Seed aspects of one tokenised text, at most one mention per aspect and clause."""
    found: list[Mention] = []
    seen: set[tuple[str, int]] = set()
    for ci, clause in enumerate(clauses(toks)):
        for i, t in enumerate(clause):
            a = seed_aspect(t)
            if a is None or (a, ci) in seen:
                continue
            seen.add((a, ci))
            # the nearest cue word in the clause, the aspect word itself first ("teuer")
            cue = None
            for j in sorted(range(len(clause)), key=lambda j: (abs(j - i), j > i)):
                if polarity(clause[j]) != 0:
                    cue = clause[j]
                    break
            found.append(Mention(a, cue, ci))
    return found


def candidate_terms(text: str, language: str) -> set[str]:
    """Terms a discovered topic can be named by: German nouns, English content words."""
    out: set[str] = set()
    words = _WORD_RE.findall(text)
    for k, w in enumerate(words):
        low = w.lower()
        if len(w) < 4 or low in _STOP or w.isdigit() or seed_aspect(low) is not None or polarity(low):
            continue
        if language == "de" and not (w[0].isupper() and k > 0):
            continue  # German nouns are capitalised; the first word of a text may not be a noun
        out.add(low)
    return out


@dataclass(frozen=True, slots=True)
class AspectStats:
    aspect: str
    name: str
    discovered: bool
    mentions: int
    positive: int
    negative: int
    neutral: int
    cues_positive: tuple[tuple[str, int], ...]
    cues_negative: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"aspect": self.aspect, "name": self.name, "discovered": self.discovered,
                "mentions": self.mentions, "positive": self.positive, "negative": self.negative,
                "neutral": self.neutral, "cues_positive": dict(self.cues_positive),
                "cues_negative": dict(self.cues_negative)}


@dataclass(slots=True)
class _Acc:
    n: Counter[str] = field(default_factory=Counter)
    pos: Counter[str] = field(default_factory=Counter)
    neg: Counter[str] = field(default_factory=Counter)


def discover_topics(texts: Sequence[str], languages: Sequence[str], min_df: int = 3,
                    max_topics: int = 15) -> dict[str, str]:
    """term -> topic name, for frequent terms outside the seed lexicon. A term that
    co-occurs with a stronger term in most of its texts is folded into that topic."""
    return discover_from_docs([candidate_terms(t, lg) for t, lg in zip(texts, languages, strict=True)],
                              min_df, max_topics)


def discover_from_docs(docs: Sequence[set[str]], min_df: int = 3, max_topics: int = 15) -> dict[str, str]:
    df = Counter(term for d in docs for term in d)
    floor = max(min_df, int(0.005 * len(docs)))
    frequent = [t for t, n in df.most_common() if n >= floor]
    if not frequent:
        return {}
    inverted: dict[str, set[int]] = defaultdict(set)
    keep = set(frequent)
    for i, d in enumerate(docs):
        for term in d & keep:
            inverted[term].add(i)
    topic_of: dict[str, str] = {}
    heads: list[str] = []
    for term in frequent:
        for head in heads:
            both = len(inverted[term] & inverted[head])
            if both >= 0.6 * len(inverted[term]):
                topic_of[term] = head
                break
        else:
            if len(heads) < max_topics:
                heads.append(term)
                topic_of[term] = term
    return topic_of


def aggregate(mentions: Sequence[Sequence[tuple[Mention, str]]]) -> dict[str, _Acc]:
    acc: dict[str, _Acc] = defaultdict(_Acc)
    for per_text in mentions:
        for m, label in per_text:
            a = acc[m.aspect]
            a.n[label] += 1
            # a cue names the praise or the complaint only when it points the same way
            if m.cue and label == "positive" and polarity(m.cue) > 0:
                a.pos[m.cue] += 1
            elif m.cue and label == "negative" and polarity(m.cue) < 0:
                a.neg[m.cue] += 1
    return acc


def stats(acc: dict[str, _Acc], language: str = "de") -> list[AspectStats]:
    out = []
    for aspect, a in acc.items():
        seed = SEEDS.get(aspect)
        name = (seed[0] if language == "de" else seed[1]) if seed else aspect.capitalize()
        out.append(AspectStats(aspect, name, seed is None, sum(a.n.values()), a.n["positive"], a.n["negative"],
                               a.n["neutral"], tuple(a.pos.most_common(3)), tuple(a.neg.most_common(3))))
    return sorted(out, key=lambda s: -s.mentions)


def summary(aspects: Sequence[AspectStats], language: str = "de", top: int = 3) -> str:
    """"Gelobt: Lieferung (42; schnell), …; Kritisiert: Preis (25; teuer) …"."""
    def part(items: list[tuple[AspectStats, int, tuple[tuple[str, int], ...]]]) -> str:
        out = []
        for s, n, cues in items[:top]:
            cue = f"; {cues[0][0]}" if cues else ""
            out.append(f"{s.name} ({n}{cue})")
        return ", ".join(out) or "-"
    praised = sorted(((s, s.positive, s.cues_positive) for s in aspects if s.positive), key=lambda x: -x[1])
    criticised = sorted(((s, s.negative, s.cues_negative) for s in aspects if s.negative), key=lambda x: -x[1])
    pl, cl = ("Gelobt", "Kritisiert") if language == "de" else ("Praised", "Criticised")
    return f"{pl}: {part(praised)}; {cl}: {part(criticised)}"
