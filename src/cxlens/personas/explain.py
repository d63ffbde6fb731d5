"""Plain-language names and descriptions of personas, in German and English.

A persona is described by what sets it apart from *everyone else*: for each feature the
persona's mean is compared with the mean of all other persons, and the differences are
ranked by effect size (difference / overall standard deviation). The top few become
sentences with numbers ("kommen 3,1x häufiger über Paid Social"). Mixes (channels,
devices, categories) are said as a ratio, amounts and counts as a percentage above or
below the average.
"""

from __future__ import annotations

from dataclasses import dataclass

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
}
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


def _fact(col: str, mine: float, rest: float, lang: str) -> str | None:
    de = lang == "de"
    if "=" in col:
        dim, level = col.split("=", 1)
        if mine < 0.15:
            return None
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
        key, _, value = level.partition(":")
        return f"{key} {value}: {times} häufiger" if de else f"{key} {value}: {times} more often"
    if col not in NUMBERS or rest <= 0:
        return None
    rel = mine / rest - 1
    if abs(rel) < 0.2:
        return None
    subject = NUMBERS[col][0 if de else 1]
    if de:
        return f"{subject} {_pct(abs(rel), lang)} {'über' if rel > 0 else 'unter'} dem Durchschnitt"
    return f"{subject} {_pct(abs(rel), lang)} {'above' if rel > 0 else 'below'} average"


def _top(f: Features, members: np.ndarray, dim: str) -> str | None:
    """The level of ``dim`` this persona over-represents most (for the short name)."""
    best, best_lift = None, 1.3
    for i, c in enumerate(f.columns):
        if c.startswith(dim + "="):
            mine, rest = f.matrix[members, i].mean(), f.matrix[~members, i].mean()
            lift = mine / max(rest, 1e-9)
            if mine >= 0.3 and lift > best_lift:
                best, best_lift = c.split("=", 1)[1], lift
    return best


def _name(f: Features, members: np.ndarray, lang: str) -> str:
    parts: list[str] = []
    device = _top(f, members, "device")
    if device:
        parts.append(DEVICES.get(device, (device, device, device, device))[2 if lang == "de" else 3])
    category = _top(f, members, "category")
    if category:
        parts.append(category)
    channel = _top(f, members, "channel")
    if channel:
        parts.append(CHANNELS.get(channel, (channel, channel))[0 if lang == "de" else 1])
    return " · ".join(parts) or ("Durchschnitt" if lang == "de" else "Average")


def explain(f: Features, labels: np.ndarray) -> list[Persona]:
    """One Persona per label >= 0, in label order."""
    out: list[Persona] = []
    revenue = np.nan_to_num(f.column("revenue"))
    total_rev = float(revenue.sum())
    stage = np.nan_to_num(f.column("stage_reached")).astype(np.int64)
    std = np.nanstd(f.matrix, axis=0)
    seen: dict[str, int] = {}
    for j in range(int(labels.max()) + 1 if len(labels) else 0):
        members = labels == j
        if not members.any():
            continue
        facts: list[tuple[float, int]] = []
        for i, _ in enumerate(f.columns):
            mine, rest = f.matrix[members, i], f.matrix[~members, i]
            if np.isnan(mine).all() or np.isnan(rest).all() or not std[i] > 0:
                continue
            facts.append((abs(np.nanmean(mine) - np.nanmean(rest)) / std[i], i))
        facts.sort(reverse=True)
        texts: dict[str, list[str]] = {"de": [], "en": []}
        for _, i in facts:
            mine_m = float(np.nanmean(f.matrix[members, i]))
            rest_m = float(np.nanmean(f.matrix[~members, i]))
            for lang in ("de", "en"):
                t = _fact(f.columns[i], mine_m, rest_m, lang)
                if t and len(texts[lang]) < MAX_FACTS:
                    texts[lang].append(t)
        typical = STAGES[int(np.bincount(stage[members], minlength=len(STAGES)).argmax())]
        names = {lang: _name(f, members, lang) for lang in ("de", "en")}
        n = seen.get(names["en"], 0) + 1
        seen[names["en"]] = n
        if n > 1:
            names = {lang: f"{v} ({n})" for lang, v in names.items()}
        size, share = int(members.sum()), float(members.mean())
        rev_share = float(revenue[members].sum() / total_rev) if total_rev > 0 else 0.0
        st_de, st_en = STAGE_NAMES[typical]
        de = (f"{_int(size, 'de')} Personen ({_pct(share, 'de')}), {_pct(rev_share, 'de')} des Umsatzes; "
              f"meist bis {st_de}. " + "; ".join(texts["de"]) + ".")
        en = (f"{size:,} persons ({_pct(share, 'en')}), {_pct(rev_share, 'en')} of revenue; "
              f"mostly reach {st_en}. " + "; ".join(texts["en"]) + ".")
        out.append(Persona(j, size, round(share, 4), round(rev_share, 4), typical, names["de"], names["en"], de, en))
    return out
