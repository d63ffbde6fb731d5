"""Tokens, negation scope and the small hand-written cue lists the sentiment model uses.

Everything here is plain Python over one text at a time and is memoised per distinct
token, because feedback texts repeat the same few thousand words over and over: the
per-token work is done once, not once per text.
"""

from __future__ import annotations

import re
from typing import Final

# words, emoticons, emoji and the punctuation that ends a negation scope or carries tone
_TOKEN_RE: Final = re.compile(
    r"https?://\S+|www\.\S+"  # links
    r"|@\w+"  # mentions (tweets, tickets that quote a handle)
    r"|[:;=8][-o^']?[()\[\]dDpP/\\|*3]"  # western emoticons :) ;-( :D
    r"|<3"
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]"  # emoji and pictographs
    r"|\w+(?:['\u2019]\w+)?"  # words, keeping English contractions (don't, isn't)
    r"|[!?.,;:]"
)

#: a negation scope ends at these tokens (clause boundaries)
SCOPE_END: Final = frozenset({".", ",", ";", ":", "!", "?", "aber", "but", "doch", "jedoch", "sondern"})

NEGATORS: Final = frozenset({
    # German
    "nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals",
    "nichts", "ohne", "weder", "noch_nie", "nix", "niemand",
    # English
    "not", "no", "never", "nothing", "without", "nobody", "none", "neither", "nor",
    "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "weren't", "won't",
    "wouldn't", "can't", "cannot", "couldn't", "shouldn't", "haven't", "hasn't", "hadn't",
    "dont", "doesnt", "didnt", "isnt", "wasnt", "cant", "wont",
})
#: how many tokens after a negator its scope reaches (German often negates the next
#: adjective or noun phrase: "nicht wirklich gut", "keine schnelle Lieferung")
SCOPE_LEN: Final = 3

INTENSIFIERS: Final = frozenset({
    "sehr", "total", "extrem", "echt", "wirklich", "super", "mega", "absolut", "völlig",
    "voll", "richtig", "ziemlich", "besonders", "äußerst", "unglaublich", "so", "zu", "viel",
    "very", "really", "extremely", "totally", "absolutely", "too", "incredibly",
    "completely", "utterly", "quite", "pretty",
})

_POS_EMOJI: Final = frozenset("😀😃😄😁😆😊🙂😍🥰😘😻👍👌🙏💪🎉❤💕💖💯✨🌟⭐😎🤗☺✅🥳💚💙")
_NEG_EMOJI: Final = frozenset("😞😟😠😡🤬😢😭😩😫😤👎💔😒😕🙁☹😔😣😖🤮🤢❌⚠😱😰")
_POS_EMOTICON: Final = re.compile(r"^(?:[:;=8][-o^']?[)\]dDpP*3]|<3)$")
_NEG_EMOTICON: Final = re.compile(r"^[:;=8][-o^']?[(\[/\\|]$")

# Hand-written cue words of customer feedback (German and English). They are features of
# the trained model, not rules: the model learns how much each cue counts. Entries ending
# in "*" are stems that match any word starting with them.
_POSITIVE: Final = """
gut gute guter gutes guten besser beste besten bestens super toll tolle toller klasse prima
perfekt perfekte top spitze genial großartig hervorragend ausgezeichnet wunderbar wunderschön
schön schöne schöner freundlich* zufrieden* empfehl* danke dank lob* begeister* freu* glücklich
lieb liebe liebt gerne gern schnell schnelle schneller blitzschnell pünktlich* problemlos
reibungslos zuverlässig* kompetent* hilfsbereit* hilfreich* günstig* preiswert* einfach bequem
übersichtlich* lecker fantastisch phantastisch angenehm* geil cool yeah yay juhu hurra haha
hihi lol bravo gratulation glückwunsch* sympathisch* stark spaß fair herzlich* wow traumhaft
good great excellent amazing awesome perfect love loved lovely nice happy fast quick friendly
helpful recommend* thanks thank easy smooth reliable fantastic wonderful best better satisfied
pleased superb brilliant outstanding fine enjoy* glad cheap affordable
"""
_NEGATIVE: Final = """
schlecht* schlimm* spät späte später verspät* verzöger* langsam* teuer teure teurer überteuert
kaputt* defekt* beschädigt* falsch* fehlt fehlen fehlte fehler* mangel* mangelhaft* ärger*
enttäusch* unfreundlich* katastroph* mies* schrecklich* furchtbar* grauenhaft* unmöglich* frech*
unverschämt* schade leider problem* beschwer* reklamation* storn* ausfall* ausgefallen chaos
chaotisch warten wartezeit* nerv* scheiß* scheiss* mist doof* blöd* hass* traurig* angst
wütend* sauer abzocke* betrug* betrüg* umständlich* kompliziert* unzuverlässig* verloren
streik* störung* gestört unzufrieden* unklar* unübersichtlich* nutzlos* ungenügend* peinlich*
dreist* lächerlich* miserabel* unverständlich* zumutung* tot tote tödlich* unfall* verletzt*
opfer* krank* kritik* kritisier* stress* dumm* idiot* sinnlos* schwach* zurückgeschickt
bad worse worst terrible awful horrible poor late delay* slow broken damaged defective wrong
missing disappoint* annoy* angry rude useless expensive overpriced problem* issue* complain*
refund* cancel* never hate* waste* unfortunately confusing confused unclear fail* lost scam
"""


def _split(words: str) -> tuple[frozenset[str], tuple[str, ...]]:
    exact = {w for w in words.split() if not w.endswith("*")}
    stems = tuple(sorted({w[:-1] for w in words.split() if w.endswith("*")}, key=len, reverse=True))
    return frozenset(exact | set(stems)), stems


POS_WORDS, POS_STEMS = _split(_POSITIVE)
NEG_WORDS, NEG_STEMS = _split(_NEGATIVE)
# one compiled alternation per list: a prefix test against every stem in C, not in a loop
_POS_STEM_RE: Final = re.compile("|".join(map(re.escape, POS_STEMS)))
_NEG_STEM_RE: Final = re.compile("|".join(map(re.escape, NEG_STEMS)))

_polarity_cache: dict[str, int] = {}


def tokens(text: str) -> list[str]:
    """Lower-cased tokens; links and mentions collapse to one placeholder each."""
    out: list[str] = []
    for tok in _TOKEN_RE.findall(text):
        c = tok[0]
        if (c == "h" and tok.startswith(("http://", "https://"))) or (c == "w" and tok.startswith("www.")):
            out.append("<url>")
        elif c == "@" and len(tok) > 1:
            out.append("<user>")
        else:
            out.append(tok.lower())
    return out


def polarity(tok: str) -> int:
    """+1 / -1 / 0 for a cue word, emoji or emoticon (memoised)."""
    p = _polarity_cache.get(tok)
    if p is None:
        p = _polarity(tok)
        if len(_polarity_cache) < 500_000:
            _polarity_cache[tok] = p
    return p


def _polarity(tok: str) -> int:
    if tok in POS_WORDS or tok in _POS_EMOJI or _POS_EMOTICON.match(tok):
        return 1
    if tok in NEG_WORDS or tok in _NEG_EMOJI or _NEG_EMOTICON.match(tok):
        return -1
    if len(tok) > 4:
        # a negative stem wins ties: "verspätung" is not praise because it starts with "ver"
        if _NEG_STEM_RE.match(tok):
            return -1
        if _POS_STEM_RE.match(tok):
            return 1
    return 0


def negation_marks(toks: list[str]) -> list[bool]:
    """For each token: is it inside the scope of a preceding negator?"""
    marks: list[bool] = []
    left = 0
    for tok in toks:
        if tok in SCOPE_END:
            left = 0
            marks.append(False)
        elif tok in NEGATORS:
            left = SCOPE_LEN
            marks.append(False)
        else:
            marks.append(left > 0)
            if left:
                left -= 1
    return marks
