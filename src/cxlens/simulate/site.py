"""The simulated web sites: pages, products, campaigns and devices.

Everything here is a constant table indexed by small integers; the event log stores
the indexes and ``arrowize`` turns them into URLs, titles and JSON at the very end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

#: Channel ids the simulator sets explicitly (a subset of ingest.channels.CHANNELS).
CHANNELS: Final = (
    "direct", "organic_search", "paid_search", "organic_social", "paid_social", "display",
    "email", "referral", "affiliate", "store", "sales", "support", "delivery", "survey",
)
CH: Final = {name: i for i, name in enumerate(CHANNELS)}

DEVICE_TYPES: Final = ("desktop", "mobile", "tablet")
#: (device type, os name, os version, user agent) per device profile.
DEVICE_PROFILES: Final = (
    ("desktop", "Windows", "10",
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
    ("desktop", "Mac OS X", "14.4",
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"),
    ("mobile", "iOS", "17.4",
     "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    ("mobile", "Android", "14",
     "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36"),
    ("tablet", "iPadOS", "17.4",
     "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
)
#: device profiles per device type, for drawing an OS once the type is known
PROFILES_OF_TYPE: Final = {"desktop": (0, 1), "mobile": (2, 3), "tablet": (4,)}

LOCALES: Final = ("de-DE", "de-AT", "de-CH", "en-GB", "en-US")


@dataclass(frozen=True, slots=True)
class Campaign:
    """How a landing page view looks for one acquisition channel."""

    channel: str
    source: str | None = None
    medium: str | None = None
    name: str | None = None
    click_id: str | None = None  # click id parameter name (gclid, fbclid, ...)
    referrer: str | None = None


CAMPAIGNS: Final = (
    Campaign("direct"),
    Campaign("organic_search", referrer="https://www.google.de/"),
    Campaign("organic_search", referrer="https://www.ecosia.org/"),
    Campaign("paid_search", "google", "cpc", "brand_search", "gclid", "https://www.google.de/"),
    Campaign("paid_search", "google", "cpc", "generic_search", "gclid", "https://www.google.de/"),
    Campaign("paid_search", "bing", "cpc", "generic_search", "msclkid", "https://www.bing.com/"),
    Campaign("paid_social", "facebook", "paid_social", "spring_sale", "fbclid", "https://m.facebook.com/"),
    Campaign("paid_social", "instagram", "paid_social", "influencer_retargeting", "fbclid",
             "https://www.instagram.com/"),
    Campaign("paid_social", "linkedin", "paid_social", "abm_decision_makers", "li_fat_id",
             "https://www.linkedin.com/"),
    Campaign("display", "gdn", "display", "prospecting_banner", "dclid", "https://www.spiegel.de/"),
    Campaign("organic_social", referrer="https://www.instagram.com/"),
    Campaign("organic_social", referrer="https://www.linkedin.com/"),
    Campaign("organic_social", referrer="https://www.xing.com/"),
    Campaign("email", "newsletter", "email", "newsletter", None, None),
    Campaign("referral", referrer="https://www.testberichte-vergleich.de/"),
    Campaign("affiliate", "awin", "affiliate", "cashback_partner", None, "https://www.cashback-partner.de/"),
)
#: campaign templates per channel (the simulator draws a channel, then a template)
CAMPAIGNS_OF: Final = {
    ch: tuple(i for i, c in enumerate(CAMPAIGNS) if c.channel == ch)
    for ch in {c.channel for c in CAMPAIGNS}
}


@dataclass(frozen=True, slots=True)
class Site:
    """One web site: its pages (path, title) and product catalogue."""

    host: str
    pages: tuple[tuple[str, str], ...]  # (path, title) of content pages
    categories: tuple[str, ...]
    products_per_category: int
    price_median: tuple[float, ...]  # per category
    help_page: int  # index of the confusing shipping-costs/returns page
    cart_page: int
    checkout_pages: tuple[int, int, int]  # shipping, payment, confirmation
    product_words: tuple[str, ...]

    @property
    def n_products(self) -> int:
        return len(self.categories) * self.products_per_category

    @property
    def first_product_page(self) -> int:
        return len(self.pages)

    def product_page(self, item: np.ndarray) -> np.ndarray:
        return (self.first_product_page + item).astype(np.int16)

    def product_prices(self) -> np.ndarray:
        """Prices ascending within each category (rank 0 is the cheapest); fixed, not
        random, so every seed sells the same catalogue."""
        k = self.products_per_category
        spread = np.exp(np.linspace(-0.9, 0.9, k))
        return np.round(np.outer(np.asarray(self.price_median), spread).ravel(), 2) - 0.01

    def product_category(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.categories)), self.products_per_category)

    def product_names(self) -> list[str]:
        words = self.product_words
        return [
            f"{words[i % len(words)]} {cat.split()[0]} {i + 1:02d}"
            for cat in self.categories
            for i in range(self.products_per_category)
        ]

    def product_slugs(self) -> list[str]:
        return [f"p{i:04d}" for i in range(self.n_products)]

    def all_pages(self) -> list[tuple[str, str]]:
        """(path, title) for content pages, then one page per product."""
        names = self.product_names()
        cats = self.product_category()
        out = list(self.pages)
        for i, slug in enumerate(self.product_slugs()):
            cat = self.categories[int(cats[i])].lower().replace(" & ", "-").replace(" ", "-")
            out.append((f"/{cat}/{slug}", names[i]))
        return out


SHOP_SITE: Final = Site(
    host="www.nordlicht-shop.de",
    pages=(
        ("/", "Nordlicht - Mode, Wohnen & Technik online kaufen"),
        ("/angebote", "Angebote der Woche"),
        ("/neuheiten", "Neuheiten"),
        ("/hilfe/versandkosten-und-ruecksendung", "Versandkosten & Rücksendung"),
        ("/warenkorb", "Warenkorb"),
        ("/kasse/versand", "Kasse - Versand"),
        ("/kasse/zahlung", "Kasse - Zahlung"),
        ("/kasse/bestaetigung", "Vielen Dank für Ihre Bestellung"),
        ("/konto", "Mein Konto"),
        ("/ratgeber", "Ratgeber"),
    ),
    categories=("Damenmode", "Herrenmode", "Sport & Outdoor", "Wohnen", "Elektronik",
                "Beauty", "Kinder", "Garten"),
    products_per_category=25,
    price_median=(49.0, 59.0, 79.0, 89.0, 199.0, 24.0, 29.0, 69.0),
    help_page=3,
    cart_page=4,
    checkout_pages=(5, 6, 7),
    product_words=("Classic", "Urban", "Nordic", "Premium", "Eco", "Smart", "Comfort", "Pro"),
)

B2B_SITE: Final = Site(
    host="www.technikwerk-b2b.de",
    pages=(
        ("/", "Technikwerk - Industriebedarf für Profis"),
        ("/loesungen", "Lösungen für Ihre Branche"),
        ("/preise", "Preise & Rahmenverträge"),
        ("/hilfe/versandkosten-und-ruecksendung", "Versandkosten, Lieferzeiten & Rücksendung"),
        ("/warenkorb", "Bestellkorb"),
        ("/kasse/versand", "Bestellung - Lieferung"),
        ("/kasse/zahlung", "Bestellung - Zahlung"),
        ("/kasse/bestaetigung", "Bestellung eingegangen"),
        ("/fallstudien", "Fallstudien"),
        ("/whitepaper", "Whitepaper: Beschaffung 4.0"),
        ("/demo", "Demo anfragen"),
        ("/integration", "ERP-Integration (SAP, DATEV, OCI-Punchout)"),
        ("/sicherheit", "Sicherheit & Datenschutz"),
        ("/webinar", "Webinar-Reihe"),
    ),
    categories=("Werkzeug", "Arbeitsschutz", "Elektro", "Befestigungstechnik",
                "Büro & IT", "Reinigung & Hygiene"),
    products_per_category=30,
    price_median=(120.0, 45.0, 90.0, 35.0, 260.0, 40.0),
    help_page=3,
    cart_page=4,
    checkout_pages=(5, 6, 7),
    product_words=("Industrie", "Profi", "Kompakt", "Heavy", "Basic", "Max"),
)
