"""German and English: negotiation, switching, and Babel's number/currency/date formats."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from cxlens.web.i18n import LANGS, MESSAGES, Fmt, negotiate
from web.web_support import login


def test_every_message_exists_in_german_and_english() -> None:
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGS), key
        assert all(v.strip() for v in texts.values()), key


def test_every_channel_an_importer_sets_has_a_label_in_both_languages() -> None:
    from cxlens.ingest.channels import CHANNELS
    from cxlens.web.i18n import channel_label

    # the non-web channels, from "store" on in CHANNELS; "process" (XES logs) had no label
    ids = list(CHANNELS)
    for channel in ids[ids.index("store"):]:
        assert f"channel.{channel}" in MESSAGES, channel
    assert channel_label("de", "process") == "Prozess"


def test_accept_language_picks_the_preferred_supported_language() -> None:
    assert negotiate("de-AT,de;q=0.9,en;q=0.8") == "de"
    assert negotiate("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4") == "en"
    assert negotiate("fr-FR,de-CH;q=0.7") == "de"
    assert negotiate(None) == "en" and negotiate("x;q=abc") == "en"


def test_money_numbers_dates_are_formatted_per_language() -> None:
    de, en = Fmt("de"), Fmt("en")
    assert de.money(1234.56) == "1.234,56\xa0€"
    assert en.money(1234.56) == "€1,234.56"
    assert de.number(1234567) == "1.234.567" and en.number(1234567) == "1,234,567"
    assert de.percent(0.0312) == "3,1\xa0%" and en.percent(0.0312) == "3.1%"
    assert de.date(date(2025, 3, 7)) == "07.03.2025" and en.date(date(2025, 3, 7)) == "7 Mar 2025"
    assert de.change(-0.25) == "\u221225,0\xa0%"


def test_pages_follow_accept_language_and_the_switch_overrides_it(client: TestClient) -> None:
    login(client, "anna")
    de = client.get("/", headers={"accept-language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in de.text and "Übersicht" in de.text and "Umsatz" in de.text
    assert " €" in de.text or "\xa0€" in de.text  # German currency format on the KPI cards
    r = client.get("/lang?to=en&next=/journey", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/journey"
    en = client.get("/", headers={"accept-language": "de-DE"})
    assert '<html lang="en">' in en.text and "Revenue" in en.text and "€" in en.text
    assert client.get("/lang?to=xx&next=//evil.example", follow_redirects=False
                      ).headers["location"] == "/"
