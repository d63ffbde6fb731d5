"""Service failure and service recovery words of customer experience, German and English.

Written by the cxlens authors from domain knowledge of e-commerce and service CX (what
customers report when an order, a delivery, a trip, a payment or a service goes wrong,
and what they report when it is put right), not taken from any data set; Apache-2.0 like
the rest of cxlens. Customers often state such events without any tone ("Lieferung seit
Tagen im Verteilzentrum", "Zugausfall wegen Signalstörung", "Erstattung erhalten"): a
tone lexicon misses them, and German packs them into compounds ("Lieferverzögerung",
"Bahnstreik"), so the German failure and recovery stems match anywhere in a word.

They are features of the trained model (``cx:neg`` / ``cx:pos``, flipped by negation as
the other cue lists are), not rules: the model learns how much they count. Whether they
are kept is decided by cross-validation on SB10k train (``scripts/train_sentiment.py``).
"""

from __future__ import annotations

import re
from typing import Final

#: German stems of a service failure, matched anywhere in a token (compound heads)
_FAILURE_DE: Final = """
verspätung verspätet verzögerung verzögert lieferverzug rückstand ausfall ausgefallen störung
gestört streik defekt kaputt beschädig storniert stornierung gestrichen annulliert
abgesagt warteschleife wartezeit überfüllt überbucht verpasst sperrung gesperrt unfall notarzt
personenschaden polizeieinsatz feuerwehreinsatz evakuier ersatzverkehr umleitung baustelle
bauarbeiten reklamation beschwerde mahnung inkasso verloren vermisst preiserhöhung abzocke
unpünktlich außerplanmäßig überlastet absturz abgestürzt fehlgeschlagen abgelehnt stillstand liegengeblieben
steckengeblieben lieferengpass ausverkauft diebstahl gestohlen vandalismus blockiert
falschlieferung nachzahlung unerreichbar funkloch
"""
#: German stems of a recovery: the failure put right, money back, things on time again
_RECOVERY_DE: Final = """
behoben repariert wiederhergestellt beendet aufgehoben freigegeben entschädig erstattet
gutgeschrieben gutschrift kulanz pünktlich reibungslos normalbetrieb
planmäßig modernisiert verbessert ausgebaut erneuert eröffnet kostenlos gratis rabatt
ermäßigt vergünstig
"""
#: whole words only: as stems they would match inside other words ("Zeitspanne",
#: "Vereinigung"); English does not compound in one word
_FAILURE_WORDS: Final = """
panne pannen
delay delays delayed late cancelled canceled cancellation outage outages broken defective
damaged faulty missing lost strike strikes crash crashed error errors failed failure declined
stuck overcharged overbooked queue unreachable disruption disrupted breakdown accident
"""
_RECOVERY_WORDS: Final = """
einigung geeinigt fixed resolved restored refunded reimbursed compensated punctual discount reopened upgraded
improved
"""


def _stems(words: str) -> re.Pattern[str]:
    return re.compile("|".join(sorted(map(re.escape, words.split()), key=len, reverse=True)))


_FAIL_RE: Final = _stems(_FAILURE_DE)
_FIX_RE: Final = _stems(_RECOVERY_DE)
_FAIL_WORDS: Final = frozenset(_FAILURE_WORDS.split())
_FIX_WORDS: Final = frozenset(_RECOVERY_WORDS.split())


def cx_polarity(tok: str) -> int:
    """-1 for a service failure word, +1 for a recovery word, else 0 (callers memoise)."""
    if tok in _FAIL_WORDS:
        return -1
    if tok in _FIX_WORDS:
        return 1
    if len(tok) < 5 or not tok.isalpha():
        return 0
    # a failure inside the word wins: "Störungsbeseitigung verzögert" stays a failure
    if _FAIL_RE.search(tok):
        return -1
    if _FIX_RE.search(tok):
        return 1
    return 0
