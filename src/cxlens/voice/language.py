"""German or English? Function words decide, letters break ties.

Feedback texts are short ("Paket kam zu spät"), where character n-gram detectors are
unsure and slow. The most frequent function words of each language cover almost every
sentence, and letters only German has (ä ö ü ß) settle the rest. Only ``de`` and ``en``
are told apart because those are the languages the sentiment model speaks; a text with
no evidence either way gets the caller's default.
"""

from __future__ import annotations

from typing import Final

from cxlens.voice.text import tokens

LANGUAGES: Final = ("de", "en")

_DE: Final = frozenset(["der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines", "und", "oder", "aber", "nicht", "kein", "keine", "ist", "sind", "war", "waren", "wird", "wurde", "wurden", "hat", "haben", "hatte", "ich", "du", "er", "sie", "es", "wir", "ihr", "mich", "mir", "mein", "meine", "sehr", "auch", "noch", "schon", "nur", "mit", "von", "zu", "zum", "zur", "bei", "nach", "für", "auf", "aus", "im", "ins", "am", "an", "um", "über", "unter", "wie", "was", "wer", "wo", "warum", "wenn", "dass", "weil", "als", "so", "doch", "mal", "jetzt", "heute", "immer", "wieder", "hier", "da", "dann", "gibt", "gut", "schlecht", "lieferung", "paket", "bestellung", "ware", "kam", "nie", "leider", "viel", "zu", "bitte", "danke", "gerne", "man", "uns", "euch", "sich", "sein", "seine", "ihre", "ihren", "diese", "dieser", "dieses", "alle", "alles", "nichts", "etwas", "kann", "schnell", "schnelle", "versand", "versandkosten", "preis", "preise", "teuer", "kundenservice", "rücksendung", "qualität", "freundlich", "freundlicher", "bestellt", "geliefert", "zufrieden", "toll", "leider", "einfach", "ganz", "gar"])
_EN: Final = frozenset(["the", "a", "an", "and", "or", "but", "not", "no", "is", "are", "was", "were", "be", "been", "has", "have", "had", "i", "you", "he", "she", "it", "we", "they", "me", "my", "mine", "your", "our", "very", "also", "still", "only", "with", "from", "to", "of", "at", "by", "for", "on", "in", "out", "into", "over", "under", "how", "what", "who", "where", "why", "when", "if", "that", "because", "as", "so", "just", "now", "today", "always", "again", "here", "there", "then", "get", "got", "good", "bad", "delivery", "parcel", "order", "arrived", "never", "unfortunately", "much", "too", "please", "thanks", "this", "these", "those", "all", "everything", "nothing", "can", "could", "would", "should", "will", "did", "do", "does", "great", "quick", "shipping", "fast", "friendly", "product", "price", "prices", "late", "slow", "happy", "love", "excellent", "nice", "helpful", "easy", "recommend", "terrible", "awful", "service", "support", "refund", "returns", "quality", "cheap", "expensive"])
_DE_LETTERS: Final = frozenset("äöüß")

_cache: dict[str, int] = {}


def _vote(tok: str) -> int:
    v = _cache.get(tok)
    if v is None:
        v = (tok in _DE) - (tok in _EN)
        if not v and any(c in _DE_LETTERS for c in tok):
            v = 1
        if len(_cache) < 200_000:
            _cache[tok] = v
    return v


def detect_language_tokens(toks: list[str], default: str = "de") -> str:
    score = 0
    for tok in toks:
        score += _vote(tok)
    if score > 0:
        return "de"
    if score < 0:
        return "en"
    return default


def detect_language(text: str, default: str = "de") -> str:
    """``de`` or ``en``; ``default`` when the text gives no evidence (e.g. only emoji)."""
    if default not in LANGUAGES:
        from cxlens.errors import ValidationError

        raise ValidationError(f"language {default!r} is not supported; use one of {', '.join(LANGUAGES)}")
    return detect_language_tokens(tokens(text), default)
