"""Plain-language names and descriptions of personas, in German and English.

A persona is described by what sets it apart from *everyone else*: for each feature the
persona's mean is compared with the mean of all other persons, and the differences are
ranked by effect size (difference / overall standard deviation). The top few become
sentences with numbers ("kommen 3,1x häufiger über Paid Social"). Mixes (channels,
devices, categories) are said as a ratio, amounts and counts as a percentage above or
below the average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxlens.personas.features import STAGES, Features

CHANNELS = {
    "paid_search": ("Paid Search", "paid search"), "paid_social": ("Paid Social", "paid social"),
    "organic_search": ("organische Suche", "organic search"), "organic_social": ("Social Media", "organic social"),
    "display": ("Display-Werbung", "display ads"), "email": ("E-Mail", "e-mail"),
    "referral": ("Verweise", "referrals"), "affiliate": ("Affiliates", "affiliates"),
    "direct": ("Direktaufrufe", "direct visits"),
}
DEVICES = {"mobile": ("mobil", "on mobile", "Mobil", "Mobile"), "tablet": ("auf dem Tablet", "on tablet", "Tablet", "Tablet"),
           "desktop": ("am Desktop", "on desktop", "Desktop", "Desktop")}
NUMBERS = {  # feature -> (German, English) subject
    "basket": ("Warenkorb", "basket"), "price": ("angesehene Preise", "viewed prices"),
    "sessions": ("Besuche", "visits"), "views_per_session": ("Produktansichten je Besuch", "product views per visit"),
    "orders": ("Bestellungen", "orders"),
    "support_contacts": ("Support-Kontakte", "support contacts"),
    "members": ("Personen im Buying Center", "buying-centre members"),
    "recency_days": ("Tage seit der letzten Aktivität", "days since the last activity"),
    "revenue": ("Umsatz", "revenue"),
}
PAINS = {"late_delivery": ("Lieferverzug", "late delivery"),
         "checkout_abandoned": ("abgebrochener Checkout", "abandoned checkout"),
         "contract_cancelled": ("Vertrag gekündigt", "contract cancelled"),
         "negative_feedback": ("negatives Feedback", "negative feedback")}
UNITS = {"person": ("Personen", "persons"), "account": ("Firmenkunden", "accounts")}
MAX_PAINS = 3
MIN_PAIN = 0.01  # a pain point is named when at least 1 % of the members had it
STAGE_NAMES = {"awareness": ("Aufmerksamkeit", "awareness"), "consideration": ("Abwägung", "consideration"),
               "decision": ("Kauf", "purchase"), "fulfillment": ("Lieferung", "delivery"),
               "renewal": ("Wiederkauf", "repeat purchase")}
MAX_FACTS = 4


@dataclass(frozen=True, slots=True)
class Persona:
    index: int
    size: int
    share: float
    revenue_share: float
    stage: str
    name_de: str
    name_en: str
    description_de: str
    description_en: str
    #: share of members per furthest stage reached (awareness .. renewal)
    stages: dict[str, float] = field(default_factory=dict)
    #: the most common journey (landing channel, then milestones in order) and its share
    journey: list[str] = field(default_factory=list)
    journey_share: float = 0.0
    #: top pain points: key, share of members, share of everyone else, German/English label
    pain_points: list[dict[str, Any]] = field(default_factory=list)
    #: feedback of members: mean score as a share of the scale, mean text sentiment (-1..1)
    feedback: dict[str, float | None] = field(default_factory=dict)

    def name(self, lang: str) -> str:
        return self.name_de if lang == "de" else self.name_en

    def description(self, lang: str) -> str:
        return self.description_de if lang == "de" else self.description_en


def _num(x: float, lang: str, digits: int = 1) -> str:
    s = f"{x:.{digits}f}"
    return s.replace(".", ",") if lang == "de" else s


def _int(n: int, lang: str) -> str:
    return f"{n:,}".replace(",", ".") if lang == "de" else f"{n:,}"


def _pct(x: float, lang: str) -> str:
    return f"{round(x * 100)} %" if lang == "de" else f"{round(x * 100)}%"


def _other(rest: float, lang: str) -> str:
    return f"sonst {_pct(rest, lang)}" if lang == "de" else f"others {_pct(rest, lang)}"


def _fact(col: str, mine: float, rest: float, lang: str) -> str | None:
    de = lang == "de"
    if "=" in col:
        dim, level = col.split("=", 1)
        if mine < 0.15 or dim == "pain":
            return None
        if dim == "role":
            if mine / max(rest, 1e-9) < 1.3:
                return None
            return (f"{_pct(mine, lang)} der Personen im Buying Center sind {level} ({_other(rest, lang)})" if de
                    else f"{_pct(mine, lang)} of buying-centre members are {level} ({_other(rest, lang)})")
        ratio = mine / max(rest, 1e-9)
        if dim == "device":
            label = DEVICES.get(level, (level, level))[0 if de else 1]
            return f"{_pct(mine, lang)} {label}"
        if ratio < 1.5:
            return None
        if ratio >= 10:  # "99x" says less than the two shares side by side
            other = "sonst" if de else "others"
            if dim == "channel":
                ch = CHANNELS.get(level, (level, level))[0 if de else 1]
                return (f"kommen zu {_pct(mine, lang)} über {ch} ({other} {_pct(rest, lang)})" if de
                        else f"{_pct(mine, lang)} come through {ch} ({other} {_pct(rest, lang)})")
        times = f"{_num(min(ratio, 99.0), lang)}×"  # noqa: RUF001 - the sign readers expect
        if dim == "channel":
            ch = CHANNELS.get(level, (level, level))[0 if de else 1]
            return f"kommen {times} häufiger über {ch}" if de else f"come {times} more often through {ch}"
        if dim == "category":
            return (f"sehen sich {times} häufiger {level} an ({_pct(mine, lang)} der Produktansichten)" if de
                    else f"view {level} {times} more often ({_pct(mine, lang)} of product views)")
        if dim != "trait" and ratio >= 10:  # a configured property mix ([personas.extra.<dim>])
            return f"{dim} {level}: {_pct(mine, lang)} ({_other(rest, lang)})"
        if dim != "trait":
            return (f"{dim} {level}: {times} häufiger ({_pct(mine, lang)})" if de
                    else f"{dim} {level}: {times} more often ({_pct(mine, lang)})")
        key, _, value = level.partition(":")
        return f"{key} {value}: {times} häufiger" if de else f"{key} {value}: {times} more often"
    if col not in NUMBERS or rest <= 0:
        return None
    rel = mine / rest - 1
    if abs(rel) < 0.2:
        return None
    subject = NUMBERS[col][0 if de else 1]
    if rel >= 49:  # "119103 % above" says less than the two means side by side
        return (f"{subject} im Schnitt {_num(mine, lang)} (sonst {_num(rest, lang, 2)})" if de
                else f"{subject} {_num(mine, lang)} on average (others {_num(rest, lang, 2)})")
    if rel >= 2:
        times = f"{_num(rel + 1, lang)}×"  # noqa: RUF001 - the sign readers expect
        return f"{subject} {times} so hoch wie im Durchschnitt" if de else f"{subject} {times} the average"
    if de:
        return f"{subject} {_pct(abs(rel), lang)} {'über' if rel > 0 else 'unter'} dem Durchschnitt"
    return f"{subject} {_pct(abs(rel), lang)} {'above' if rel > 0 else 'below'} average"


#: short name parts from numbers, for personas without a telling mix: (feature, direction) -> DE, EN
NUMBER_NAMES = {
    ("orders", 1): ("Stammkunden", "Repeat buyers"), ("orders", -1): ("Wenigkäufer", "Rare buyers"),
    ("basket", 1): ("Große Warenkörbe", "Big baskets"), ("basket", -1): ("Kleine Warenkörbe", "Small baskets"),
    ("revenue", 1): ("Umsatzstark", "High revenue"), ("recency_days", 1): ("Lange inaktiv", "Lapsed"),
    ("recency_days", -1): ("Kürzlich aktiv", "Recently active"),
    ("views_per_session", 1): ("Stöberer", "Browsers"), ("views_per_session", -1): ("Kurzbesucher", "Quick visitors"),
    ("sessions", 1): ("Häufige Besucher", "Frequent visitors"), ("price", 1): ("Teure Produkte", "Premium products"),
    ("price", -1): ("Preisbewusst", "Price-conscious"), ("members", 1): ("Große Buying Center", "Large buying centres"),
    ("support_contacts", 1): ("Viel Support", "Support-heavy"),
}


def _top(f: Features, mine: np.ndarray, rest: np.ndarray, dim: str) -> str | None:
    """The level of ``dim`` this persona over-represents most (for the short name)."""
    best, best_lift = None, 1.3
    for i, c in enumerate(f.columns):
        if c.startswith(dim + "="):
            lift = mine[i] / max(rest[i], 1e-9)
            if mine[i] >= 0.3 and lift > best_lift:
                best, best_lift = c.split("=", 1)[1], lift
    return best


def _name(f: Features, mine: np.ndarray, rest: np.ndarray, lang: str) -> str:
    parts: list[str] = []
    device = _top(f, mine, rest, "device")
    if device:
        parts.append(DEVICES.get(device, (device, device, device, device))[2 if lang == "de" else 3])
    category = _top(f, mine, rest, "category")
    if category:
        parts.append(category)
    channel = _top(f, mine, rest, "channel")
    if channel:
        parts.append(CHANNELS.get(channel, (channel, channel))[0 if lang == "de" else 1])
    for extra in f.spec.extra:  # configured property mixes name a persona too
        level = _top(f, mine, rest, extra.name)
        if level:
            parts.append(level)
    if not parts:  # B2B accounts without a clear mix: the industry they mostly are
        industry = _top(f, mine, rest, "trait")
        if industry:
            parts.append(industry.partition(":")[2])
    if len(parts) < 2:  # numbers that set the persona apart: "Stammkunden · Große Warenkörbe"
        for col in _number_order(f, mine, rest):
            parts.append(col[0 if lang == "de" else 1])
            if len(parts) >= 2:
                break
    return " · ".join(parts) or ("Durchschnitt" if lang == "de" else "Average")


def _number_order(f: Features, mine: np.ndarray, rest: np.ndarray) -> list[tuple[str, str]]:
    """NUMBER_NAMES of this persona, strongest relative difference (>= 30 %) first."""
    found: list[tuple[float, tuple[str, str]]] = []
    for (col, sign), label in NUMBER_NAMES.items():
        if col in f.columns:
            i = f.columns.index(col)
            if rest[i] > 0 and not np.isnan(mine[i]):
                rel = mine[i] / rest[i] - 1
                if rel * sign >= 0.3:
                    if col == "orders" and sign > 0 and mine[i] < 1.8:  # one order each: buyers, not regulars
                        label = ("Käufer", "Buyers")
                    found.append((min(abs(rel), 1.0) if sign < 0 else abs(rel), label))
    return [label for _, label in sorted(found, key=lambda x: -x[0])]


def _group_means(f: Features, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean of each column per persona, mean of everyone else), NaN ignored: k x columns.
    Sums by bincount, so this is one pass per column whatever k."""
    lab = np.where(labels >= 0, labels, k)
    x = f.matrix
    ok = ~np.isnan(x)
    sums = np.stack([np.bincount(lab, weights=np.where(ok[:, i], x[:, i], 0.0), minlength=k + 1)
                     for i in range(x.shape[1])], axis=1) if x.shape[1] else np.zeros((k + 1, 0))
    cnts = np.stack([np.bincount(lab, weights=ok[:, i].astype(np.float64), minlength=k + 1)
                     for i in range(x.shape[1])], axis=1) if x.shape[1] else np.zeros((k + 1, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        mine = sums[:k] / cnts[:k]
        rest = (sums.sum(0)[None, :] - sums[:k]) / (cnts.sum(0)[None, :] - cnts[:k])
    return mine, rest


def _step(step: str, lang: str) -> str:
    if step.startswith("channel:"):
        ch = step.split(":", 1)[1]
        return CHANNELS.get(ch, (ch, ch))[0 if lang == "de" else 1]
    return step


def _pain_label(key: str, lang: str) -> str:
    if key.startswith("ticket:"):
        return f"Ticket „{key[7:]}“" if lang == "de" else f"ticket '{key[7:]}'"
    return PAINS.get(key, (key, key))[0 if lang == "de" else 1]


def explain(f: Features, labels: np.ndarray) -> list[Persona]:
    """One Persona per label >= 0, in label order."""
    out: list[Persona] = []
    k = int(labels.max()) + 1 if len(labels) else 0
    revenue = np.nan_to_num(f.column("revenue"))
    total_rev = float(revenue.sum())
    stage = np.clip(np.nan_to_num(f.column("stage_reached")).astype(np.int64), 0, len(STAGES) - 1)
    filled = ~np.isnan(f.matrix).all(axis=0) if len(f.matrix) else np.zeros(len(f.columns), bool)
    std = np.zeros(len(f.columns))
    std[filled] = np.nanstd(f.matrix[:, filled], axis=0)
    mine_all, rest_all = _group_means(f, labels, k)
    unit_de, unit_en = UNITS.get(f.spec.level, UNITS["person"])
    seen: dict[str, int] = {}
    for j in range(k):
        members = labels == j
        if not members.any():
            continue
        mine, rest = mine_all[j], rest_all[j]
        effect = np.where(np.isnan(mine) | np.isnan(rest) | ~(std > 0), -1.0,
                          np.abs(mine - rest) / np.where(std > 0, std, 1.0))
        texts: dict[str, list[str]] = {"de": [], "en": []}
        for i in np.argsort(-effect, kind="stable"):
            if effect[i] < 0:
                break
            for lang in ("de", "en"):
                t = _fact(f.columns[i], float(mine[i]), float(rest[i]), lang)
                if t and len(texts[lang]) < MAX_FACTS:
                    texts[lang].append(t)
        counts = np.bincount(stage[members], minlength=len(STAGES))
        stages = {s: round(float(c / counts.sum()), 4) for s, c in zip(STAGES, counts, strict=True)}
        typical = STAGES[int(counts.argmax())]
        journey: list[str] = []
        journey_share = 0.0
        if f.journeys is not None and len(f.journeys):
            keys, n_keys = np.unique(f.journeys[members], return_counts=True)
            top = int(np.argmax(n_keys))
            journey, journey_share = f.journey(int(keys[top])), round(float(n_keys[top] / members.sum()), 4)
        pains = sorted(((float(mine[i]), float(rest[i]), c.split("=", 1)[1]) for i, c in enumerate(f.columns)
                        if c.startswith("pain=") and mine[i] >= MIN_PAIN), reverse=True)[:MAX_PAINS]
        pain_points = [{"key": key, "share": round(m, 4), "others": round(r, 4) if r == r else None,
                        "label_de": _pain_label(key, "de"), "label_en": _pain_label(key, "en")}
                       for m, r, key in pains]
        fb_i, se_i = f.columns.index("feedback_score"), f.columns.index("sentiment")
        feedback = {"score": None if np.isnan(mine[fb_i]) else round(float(mine[fb_i]), 4),
                    "score_others": None if np.isnan(rest[fb_i]) else round(float(rest[fb_i]), 4),
                    "sentiment": None if np.isnan(mine[se_i]) else round(float(mine[se_i]), 4)}
        names = {lang: _name(f, mine, rest, lang) for lang in ("de", "en")}
        n = seen.get(names["en"], 0) + 1
        seen[names["en"]] = n
        if n > 1:
            names = {lang: f"{v} ({n})" for lang, v in names.items()}
        size, share = int(members.sum()), float(members.mean())
        rev_share = float(revenue[members].sum() / total_rev) if total_rev > 0 else 0.0
        st_de, st_en = STAGE_NAMES[typical]
        de = (f"{_int(size, 'de')} {unit_de} ({_pct(share, 'de')}), {_pct(rev_share, 'de')} des Umsatzes; "
              f"meist bis {st_de} ({_pct(stages[typical], 'de')}). " + "; ".join(texts["de"]) + ".")
        en = (f"{size:,} {unit_en} ({_pct(share, 'en')}), {_pct(rev_share, 'en')} of revenue; "
              f"mostly reach {st_en} ({_pct(stages[typical], 'en')}). " + "; ".join(texts["en"]) + ".")
        if len(journey) > 1:
            de += (f" Typischer Weg: {' → '.join(_step(x, 'de') for x in journey)} "
                   f"({_pct(journey_share, 'de')}).")
            en += (f" Typical journey: {' → '.join(_step(x, 'en') for x in journey)} "
                   f"({_pct(journey_share, 'en')}).")
        if pains:
            for lang, head in (("de", " Häufigste Probleme: "), ("en", " Top pain points: ")):
                items = [f"{_pain_label(key, lang)} {_pct(m, lang)}" + (f" ({_other(r, lang)})" if r == r else "")
                         for m, r, key in pains]
                text = head + ", ".join(items) + "."
                if lang == "de":
                    de += text
                else:
                    en += text
        if feedback["score"] is not None:
            de += f" Bewertung im Schnitt {_pct(feedback['score'], 'de')} der Skala"
            en += f" Mean rating {_pct(feedback['score'], 'en')} of the scale"
            if feedback["score_others"] is not None:
                de += f" ({_other(feedback['score_others'], 'de')})"
                en += f" ({_other(feedback['score_others'], 'en')})"
            if feedback["sentiment"] is not None:
                de += f", Stimmung der Texte {_num(feedback['sentiment'], 'de', 2)} (-1 bis 1)"
                en += f", text sentiment {_num(feedback['sentiment'], 'en', 2)} (-1 to 1)"
            de += "."
            en += "."
        out.append(Persona(j, size, round(share, 4), round(rev_share, 4), typical, names["de"], names["en"], de, en,
                           stages, journey, journey_share, pain_points, feedback))
    return out
