"""A German polarity lexicon, with inflected forms and compound heads matched.

The word list is the German Polarity Lexicon of Klenner, Clematide, Wiegand and Peters
(2010) as the textblob-de package ships it (``textblob_de/data/de-sentiment.xml``,
Apache License 2.0). ``scripts/train_sentiment.py`` reads it from the installed package
and stores the words with their polarity next to the model
(``models/polarity_de.npz``); at run time only that file and NumPy are needed.

German writes new words by compounding, and the head (the last part) carries the
meaning: "Signalstörung" is a "Störung", "Zugausfall" an "Ausfall". A word that is not
in the list is therefore looked up without a common inflection ending, then by its
longest known noun head, which lets a small lexicon cover words no training tweet
contained.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

import numpy as np

LEXICON_PATH: Final = Path(__file__).with_name("models") / "polarity_de.npz"
#: endings tried when a word is not found as written ("schöne" → "schön")
ENDINGS: Final = ("em", "en", "er", "es", "e", "n", "s")
#: a compound's head must be at least this long, and its modifier at least 3 letters
MIN_HEAD: Final = 4
MIN_COMPOUND: Final = 8


class Lexicon:
    """Polarity (+1 / -1) of words and of nouns that can be compound heads."""

    def __init__(self, words: dict[str, int], nouns: frozenset[str]) -> None:
        self.words = words
        self.nouns = nouns
        self._memo: dict[str, tuple[int, str]] = {}

    @classmethod
    def load(cls, path: Path = LEXICON_PATH) -> Lexicon:
        with np.load(path, allow_pickle=False) as z:
            names = [str(s) for s in z["words"]]
            pol = z["polarity"].tolist()
            noun = z["noun"].tolist()
        return cls(dict(zip(names, pol, strict=True)),
                   frozenset(w for w, n in zip(names, noun, strict=True) if n))

    def save(self, path: Path, meta: str) -> None:
        names = sorted(self.words)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp, words=np.array(names, dtype=np.str_),
            polarity=np.array([self.words[w] for w in names], dtype=np.int8),
            noun=np.array([w in self.nouns for w in names], dtype=np.bool_), meta=np.array(meta),
        )
        tmp.replace(path)

    def polarity(self, tok: str) -> tuple[int, str]:
        """(+1 | -1 | 0, how it was found: "w" word or inflected form, "h" compound head)."""
        hit = self._memo.get(tok)
        if hit is None:
            hit = self._lookup(tok)
            if len(self._memo) < 500_000:
                self._memo[tok] = hit
        return hit

    def _lookup(self, tok: str) -> tuple[int, str]:
        words = self.words
        p = words.get(tok)
        if p is not None:
            return p, "w"
        if len(tok) <= 4 or not tok.isalpha():
            return 0, ""
        for e in ENDINGS:
            if tok.endswith(e):
                p = words.get(tok[: -len(e)])
                if p is not None:
                    return p, "w"
        if len(tok) >= MIN_COMPOUND:
            nouns = self.nouns
            for i in range(3, len(tok) - MIN_HEAD + 1):  # longest head first
                head = tok[i:]
                if head in nouns:
                    return words[head], "h"
                for e in ("en", "n", "s"):  # plural and genitive of the head
                    if head.endswith(e) and len(head) - len(e) >= MIN_HEAD and head[: -len(e)] in nouns:
                        return words[head[: -len(e)]], "h"
        return 0, ""


@cache
def german_lexicon() -> Lexicon:
    """The shipped lexicon (empty when the file is missing, e.g. before first training)."""
    if not LEXICON_PATH.exists():
        return Lexicon({}, frozenset())
    return Lexicon.load()
