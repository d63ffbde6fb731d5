"""Free-text feedback in German and English, keyed by what the person experienced.

Texts are picked by (language, topic); the topic follows the person's journey (a late
delivery gives delivery complaints, a smooth one praise), so text analytics over the
simulated feedback has a known answer.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

TOPICS: Final = (
    "delivery_late", "praise", "shipping_costs_unclear", "price", "product_quality",
    "neutral", "support_good", "support_bad",
)
T: Final = {name: i for i, name in enumerate(TOPICS)}
LANGS: Final = ("de", "en")

_TEXTS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("de", "delivery_late"): (
        "Die Lieferung kam über eine Woche zu spät, niemand hat Bescheid gegeben.",
        "Paket kam viel zu spät an, die Sendungsverfolgung war nutzlos. Sehr ärgerlich.",
        "Lieferung verspätet, ich musste dreimal beim Kundenservice nachfragen.",
        "Zu späte Lieferung, das Geschenk kam nach dem Geburtstag. Nie wieder.",
        "Liefertermin nicht eingehalten, Ware kam erst nach mehreren Tagen Verzögerung.",
    ),
    ("en", "delivery_late"): (
        "The delivery arrived more than a week late and nobody told me.",
        "Parcel was very late, tracking was useless. Really annoying.",
        "Late delivery, I had to contact support three times.",
        "Delivery was delayed by several days, the gift arrived after the birthday.",
    ),
    ("de", "praise"): (
        "Schnelle Lieferung, alles super verpackt. Gerne wieder!",
        "Sehr zufrieden, die Bestellung war einfach und die Ware top.",
        "Toller Shop, schnelle Lieferung und freundlicher Service.",
        "Alles bestens, Qualität stimmt und der Versand war blitzschnell.",
        "Einfache Bestellung, pünktliche Lieferung, klare Empfehlung.",
    ),
    ("en", "praise"): (
        "Fast delivery, everything well packed. Will order again!",
        "Very happy, ordering was easy and the product is great.",
        "Great shop, quick shipping and friendly service.",
        "Everything perfect, good quality and lightning fast delivery.",
    ),
    ("de", "shipping_costs_unclear"): (
        "Die Versandkosten und Rücksendebedingungen sind total unklar, ich habe sie nicht gefunden.",
        "Auf der Seite zu Versand und Rücksendung dreht man sich im Kreis.",
        "Was kostet der Versand nach Österreich? Die Hilfeseite erklärt es nicht.",
        "Unübersichtliche Infos zu Rücksendung und Versandkosten, habe deshalb abgebrochen.",
    ),
    ("en", "shipping_costs_unclear"): (
        "Shipping costs and return conditions are confusing, I could not find them.",
        "The shipping and returns page goes round in circles.",
        "Unclear information about returns and shipping fees, so I gave up.",
    ),
    ("de", "price"): (
        "Preise sind höher als bei der Konkurrenz, die Versandkosten kommen noch dazu.",
        "Zu teuer für die Qualität, ich vergleiche nächstes Mal woanders.",
        "Rabattcode hat nicht funktioniert, insgesamt zu teuer.",
    ),
    ("en", "price"): (
        "Prices are higher than elsewhere and shipping costs come on top.",
        "Too expensive for the quality, I will compare elsewhere next time.",
    ),
    ("de", "product_quality"): (
        "Der Artikel sah auf den Fotos besser aus, Qualität eher mittelmäßig.",
        "Größe fiel kleiner aus als angegeben, musste zurückschicken.",
        "Produkt ok, aber die Beschreibung war ungenau.",
    ),
    ("en", "product_quality"): (
        "The item looked better in the photos, quality is mediocre.",
        "Size was smaller than stated, had to send it back.",
    ),
    ("de", "neutral"): (
        "Im Großen und Ganzen in Ordnung, die Seite könnte übersichtlicher sein.",
        "Ganz ok, die Bezahlung am Handy war etwas umständlich.",
        "Solide, aber nichts Besonderes.",
    ),
    ("en", "neutral"): (
        "Overall fine, the website could be clearer.",
        "Okay, paying on my phone was a bit cumbersome.",
        "Decent, nothing special.",
    ),
    ("de", "support_good"): (
        "Der Kundenservice war schnell und sehr freundlich.",
        "Mein Anliegen wurde sofort gelöst, danke!",
    ),
    ("en", "support_good"): (
        "Customer service was quick and very friendly.",
        "My issue was solved right away, thanks!",
    ),
    ("de", "support_bad"): (
        "Der Kundenservice konnte mir nicht sagen, wo mein Paket ist.",
        "Lange Wartezeit beim Support und die Lieferung war trotzdem zu spät.",
    ),
    ("en", "support_bad"): (
        "Support could not tell me where my parcel was.",
        "Long waiting time at support and the delivery was still late.",
    ),
}

#: Ticket texts (what the customer wrote when opening a ticket), by topic.
_TICKETS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("de", "delivery_late"): (
        "Wo bleibt meine Bestellung? Der Liefertermin ist schon überschritten.",
        "Meine Lieferung ist verspätet, bitte um Auskunft.",
        "Bestellung immer noch nicht da, Sendungsverfolgung zeigt keine Bewegung.",
    ),
    ("en", "delivery_late"): (
        "Where is my order? The delivery date has passed.",
        "My delivery is late, please let me know what is going on.",
    ),
    ("de", "product_quality"): (
        "Artikel defekt angekommen, wie läuft die Rücksendung?",
        "Falsche Größe geliefert, bitte Umtausch.",
    ),
    ("en", "product_quality"): (
        "Item arrived damaged, how do I return it?",
        "Wrong size delivered, please exchange.",
    ),
}


def _flatten(table: dict[tuple[str, str], tuple[str, ...]]) -> tuple[list[str], list[str], list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    texts: list[str] = []
    langs: list[str] = []
    topics: list[str] = []
    start = np.full((len(LANGS), len(TOPICS)), -1, dtype=np.int64)
    count = np.zeros((len(LANGS), len(TOPICS)), dtype=np.int64)
    for (lang, topic), items in table.items():
        li, ti = LANGS.index(lang), T[topic]
        start[li, ti] = len(texts)
        count[li, ti] = len(items)
        texts += items
        langs += [lang] * len(items)
        topics += [topic] * len(items)
    return texts, langs, topics, start, count


FEEDBACK_TEXTS, FEEDBACK_LANGS, FEEDBACK_TOPICS, _F_START, _F_COUNT = _flatten(_TEXTS)
TICKET_TEXTS, TICKET_LANGS, TICKET_TOPICS, _T_START, _T_COUNT = _flatten(_TICKETS)


def pick(rng: np.random.Generator, lang: npt.NDArray[np.int64], topic: npt.NDArray[np.int64],
         tickets: bool = False) -> npt.NDArray[np.int64]:
    """Index of a text for each (language index, topic index); -1 where none exists."""
    start, count = (_T_START, _T_COUNT) if tickets else (_F_START, _F_COUNT)
    s = start[lang, topic]
    c = count[lang, topic]
    idx = s + np.floor(rng.random(len(lang)) * np.maximum(c, 1)).astype(np.int64)
    return np.where(c > 0, idx, -1)
