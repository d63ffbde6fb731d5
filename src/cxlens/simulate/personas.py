"""Planted personas: the segments an analysis of the simulated data should rediscover.

Each persona differs on purpose in channels, devices, basket size, categories, price
sensitivity and visit frequency, so that clustering, attribution and funnel analyses
have something real to find. ``personas.json`` in the ground truth is written from
these definitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Persona:
    key: str
    name: str
    description: str
    weight: float  # share of customers (B2C) or of accounts (B2B)
    channels: dict[str, float]  # acquisition channel mix of landing visits
    devices: tuple[float, float, float]  # desktop, mobile, tablet share of the main device
    n_devices: tuple[float, float, float]  # P(1, 2, 3 devices)
    visits: float  # mean browsing visits before the first purchase decision
    pages_per_visit: float  # mean product views per visit
    conversion: float  # P(a first purchase attempt)
    basket_items: float  # mean items per order
    categories: tuple[float, ...]  # category preference, in site order
    price_sensitivity: float  # >1 prefers cheaper products, <1 dearer ones
    repeat_orders: float  # mean repeat purchase attempts over 180 days (if not churned)
    newsletter: float  # P(opt in to the newsletter after the first order)
    loop: float  # P(a visit turns into a loop on the shipping-costs page)
    english: float  # share of en-* locales (the rest is de-DE/-AT/-CH)
    nps_base: float  # mean NPS score of a smooth experience
    # B2C traits
    age_groups: tuple[str, ...] = ()
    age_probs: tuple[float, ...] = ()
    female: float = 0.5
    regions: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    # B2B traits
    industries: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    members: float = 0.0  # mean persons per account
    contract_value: float = 0.0  # median annual contract value in EUR

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SHOP_PERSONAS: Final = (
    Persona(
        key="mobile_bargain_hunter", name="Mobile Schnäppchenjägerin",
        description="Jung, fast nur Smartphone, kommt über Social Ads und Affiliates, "
        "kleine Warenkörbe, sehr preissensibel, liest die Versandkosten-Seite oft.",
        weight=0.28,
        channels={"paid_social": 0.6, "affiliate": 0.25, "organic_social": 0.05,
                  "direct": 0.05, "organic_search": 0.05},
        devices=(0.04, 0.93, 0.03), n_devices=(0.75, 0.2, 0.05),
        visits=3.0, pages_per_visit=3.5, conversion=0.42, basket_items=1.4,
        categories=(0.12, 0.02, 0.02, 0.02, 0.02, 0.76, 0.02, 0.02), price_sensitivity=2.5,
        repeat_orders=1.2, newsletter=0.35, loop=0.10, english=0.12, nps_base=7.6,
        age_groups=("18-24", "25-34", "35-44"), age_probs=(0.45, 0.45, 0.10), female=0.72,
        regions=("Berlin", "Hamburg", "Nordrhein-Westfalen", "Bayern", "Wien", "Zürich"),
        interests=("Mode", "Beauty", "Social Media", "Fitness"),
    ),
    Persona(
        key="loyal_family_planner", name="Treuer Familienplaner",
        description="30-50, Desktop und Tablet, Newsletter-Stammkunde, große Warenkörbe "
        "für Kinder, Wohnen und Garten, kauft regelmäßig nach.",
        weight=0.22,
        channels={"direct": 0.6, "organic_search": 0.2, "paid_search": 0.1, "referral": 0.1},
        devices=(0.15, 0.1, 0.75), n_devices=(0.55, 0.35, 0.1),
        visits=2.5, pages_per_visit=4.0, conversion=0.62, basket_items=3.8,
        categories=(0.02, 0.02, 0.02, 0.2, 0.02, 0.02, 0.5, 0.2), price_sensitivity=1.2,
        repeat_orders=3.0, newsletter=0.75, loop=0.03, english=0.05, nps_base=8.6,
        age_groups=("35-44", "45-54"), age_probs=(0.6, 0.4), female=0.55,
        regions=("Bayern", "Baden-Württemberg", "Niedersachsen", "Hessen", "Steiermark"),
        interests=("Familie", "Wohnen", "Garten", "Kochen"),
    ),
    Persona(
        key="tech_researcher", name="Technik-Rechercheur",
        description="Vergleicht lange am Desktop (organische Suche, Testberichte), viele "
        "Produktansichten, wenige, teure Elektronik-Käufe.",
        weight=0.2,
        channels={"organic_search": 0.55, "referral": 0.35, "direct": 0.1},
        devices=(0.9, 0.07, 0.03), n_devices=(0.6, 0.35, 0.05),
        visits=5.0, pages_per_visit=8.0, conversion=0.35, basket_items=1.1,
        categories=(0.01, 0.03, 0.04, 0.02, 0.86, 0.01, 0.01, 0.02), price_sensitivity=0.6,
        repeat_orders=0.6, newsletter=0.3, loop=0.04, english=0.2, nps_base=7.9,
        age_groups=("25-34", "35-44", "45-54"), age_probs=(0.4, 0.4, 0.2), female=0.25,
        regions=("Baden-Württemberg", "Bayern", "Berlin", "Sachsen", "Zürich", "Wien"),
        interests=("Technik", "Gaming", "Fotografie", "Smart Home"),
    ),
    Persona(
        key="premium_fashion_lover", name="Premium-Modeliebhaberin",
        description="Mode und Beauty, Instagram und Display, wenig preissensibel, "
        "mittlere Warenkörbe, Mobile und Desktop gemischt.",
        weight=0.15,
        channels={"organic_social": 0.5, "display": 0.35, "direct": 0.15},
        devices=(0.45, 0.5, 0.05), n_devices=(0.5, 0.4, 0.1),
        visits=3.5, pages_per_visit=5.0, conversion=0.5, basket_items=2.2,
        categories=(0.62, 0.28, 0.02, 0.02, 0.01, 0.03, 0.01, 0.01), price_sensitivity=0.4,
        repeat_orders=2.0, newsletter=0.55, loop=0.03, english=0.1, nps_base=8.2,
        age_groups=("25-34", "35-44", "45-54"), age_probs=(0.4, 0.4, 0.2), female=0.8,
        regions=("Hamburg", "München", "Düsseldorf", "Frankfurt", "Wien", "Zürich"),
        interests=("Mode", "Design", "Reisen", "Beauty"),
    ),
    Persona(
        key="occasional_gift_buyer", name="Gelegenheits-Geschenkekäufer",
        description="Selten da, meist über Google-Anzeigen vor Anlässen, ein Artikel, "
        "Desktop, kommt kaum wieder.",
        weight=0.15,
        channels={"paid_search": 0.8, "organic_search": 0.1, "direct": 0.1},
        devices=(0.75, 0.22, 0.03), n_devices=(0.85, 0.13, 0.02),
        visits=1.2, pages_per_visit=3.0, conversion=0.3, basket_items=1.0,
        categories=(0.03, 0.08, 0.78, 0.03, 0.02, 0.02, 0.02, 0.02), price_sensitivity=1.0,
        repeat_orders=0.3, newsletter=0.15, loop=0.06, english=0.08, nps_base=7.8,
        age_groups=("45-54", "55-64", "65+"), age_probs=(0.4, 0.4, 0.2), female=0.4,
        regions=("Nordrhein-Westfalen", "Niedersachsen", "Thüringen", "Kärnten", "Bern"),
        interests=("Geschenke", "Reisen", "Lesen"),
    ),
)

B2B_PERSONAS: Final = (
    Persona(
        key="mittelstand_manufacturer", name="Mittelständischer Fertiger",
        description="Maschinenbau/Metall, 50-249 MA, Buying Center aus Geschäftsführung, "
        "Einkauf, Meister, IT; kommt über Suche und Messen/Empfehlungen, große "
        "Rahmenverträge, regelmäßige Nachbestellungen am Desktop.",
        weight=0.35,
        channels={"referral": 0.5, "organic_search": 0.3, "direct": 0.2},
        devices=(0.9, 0.06, 0.04), n_devices=(0.6, 0.35, 0.05),
        visits=3.0, pages_per_visit=4.0, conversion=0.45, basket_items=6.0,
        categories=(0.2, 0.03, 0.03, 0.7, 0.02, 0.02), price_sensitivity=1.3,
        repeat_orders=3.0, newsletter=0.5, loop=0.04, english=0.05, nps_base=8.0,
        industries=("Maschinenbau", "Metallverarbeitung", "Automobilzulieferer"),
        sizes=("50-249", "250-999"), members=4.0, contract_value=24000.0,
    ),
    Persona(
        key="enterprise_procurement", name="Konzern-Einkauf",
        description="Großunternehmen 1000+ MA, lange Zyklen, LinkedIn-ABM und Webinare, "
        "IT prüft Integration und Sicherheit, sehr große Verträge, wenige aber große Bestellungen.",
        weight=0.15,
        channels={"paid_social": 0.65, "organic_social": 0.2, "direct": 0.15},
        devices=(0.6, 0.05, 0.35), n_devices=(0.5, 0.4, 0.1),
        visits=5.0, pages_per_visit=6.0, conversion=0.3, basket_items=12.0,
        categories=(0.03, 0.8, 0.05, 0.03, 0.06, 0.03), price_sensitivity=0.6,
        repeat_orders=2.0, newsletter=0.4, loop=0.02, english=0.3, nps_base=7.5,
        industries=("Chemie", "Automobil", "Energie", "Logistik"),
        sizes=("1000-4999", "5000+"), members=6.0, contract_value=150000.0,
    ),
    Persona(
        key="craft_business", name="Handwerksbetrieb",
        description="Kleinbetrieb 1-9 MA, Inhaber bestellt selbst mobil von der Baustelle, "
        "preissensibel, kleine, häufige Bestellungen, Google-Anzeigen.",
        weight=0.3,
        channels={"paid_search": 0.75, "direct": 0.15, "organic_search": 0.1},
        devices=(0.1, 0.87, 0.03), n_devices=(0.75, 0.22, 0.03),
        visits=2.0, pages_per_visit=3.0, conversion=0.55, basket_items=2.5,
        categories=(0.2, 0.03, 0.72, 0.03, 0.0, 0.02), price_sensitivity=2.5,
        repeat_orders=4.0, newsletter=0.3, loop=0.09, english=0.02, nps_base=7.8,
        industries=("Elektrohandwerk", "Sanitär/Heizung", "Tischlerei", "Bauhandwerk"),
        sizes=("1-9", "10-49"), members=1.6, contract_value=3000.0,
    ),
    Persona(
        key="public_sector", name="Öffentliche Verwaltung",
        description="Kommunen und Schulen, Ausschreibungslogik, Einkauf und Verwaltung, "
        "Büro & IT sowie Reinigung, kommen über Suche und Newsletter, Desktop.",
        weight=0.2,
        channels={"organic_search": 0.7, "direct": 0.3},
        devices=(0.96, 0.02, 0.02), n_devices=(0.85, 0.13, 0.02),
        visits=3.0, pages_per_visit=3.5, conversion=0.35, basket_items=5.0,
        categories=(0.02, 0.03, 0.02, 0.03, 0.45, 0.45), price_sensitivity=1.6,
        repeat_orders=2.0, newsletter=0.6, loop=0.05, english=0.03, nps_base=7.2,
        industries=("Kommunalverwaltung", "Schulträger", "Klinikum"),
        sizes=("250-999", "1000-4999"), members=3.0, contract_value=40000.0,
    ),
)

PERSONAS: Final = {"shop": SHOP_PERSONAS, "b2b": B2B_PERSONAS}

#: buying-centre roles of B2B persons; the first member of an account decides
ROLES: Final = ("decision_maker", "purchasing", "user", "it")
ROLE_PROBS: Final = (0.0, 0.35, 0.45, 0.2)  # roles of members after the first
