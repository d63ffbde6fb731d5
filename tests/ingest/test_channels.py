"""GA4-style default channel grouping, as web analysts know it."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cxlens.ingest.channel_cache import ChannelCache
from cxlens.ingest.channels import CHANNEL_INPUT_COLUMNS, CHANNEL_INPUT_PATHS
from cxlens.ingest.normalize import normalize_sql

SHOP = "https://www.shop.de/"


def classify(context: dict[str, Any] | None, type_: str = "page", *, typed: bool = False,
             per_value: bool = False, distinct: bool = False) -> str | None:
    """The channel the store's append gives one event: from its context JSON, or (typed)
    from the inputs an importer passes as columns beside it (the same values), prepared
    per row that needs them or (per_value) once per distinct value; or (distinct) the
    collector's, once per distinct input (ingest/channel_cache.py)."""
    con = duckdb.connect()
    if distinct:
        text = json.dumps(context) if context is not None else None
        events = pa.table({"type": [type_, "track"], "context": [text, None],
                           "channel": pa.nulls(2, pa.string())})
        return ChannelCache().channels(con, events)[0].as_py()  # type: ignore[no-any-return]
    inputs = ""
    if typed:
        paths = [f"'$.{p}'" for p in CHANNEL_INPUT_PATHS]
        inputs = "".join(f", json_extract_string(c, {path}) AS {col}"
                         for path, col in zip(paths, CHANNEL_INPUT_COLUMNS, strict=True))
    con.register("raw", pa.table({"c": pa.array([json.dumps(context) if context is not None else None],
                                                pa.string()), "t": [type_]}))
    con.execute(f"CREATE VIEW e AS SELECT TIMESTAMPTZ '2025-01-01' AS timestamp, t AS type,"
                f" c AS context{inputs} FROM raw")
    sql, _ = normalize_sql(set(con.sql("SELECT * FROM e").columns), "e", per_value=per_value)
    rows = con.execute(f"SELECT channel FROM ({sql})", ["p", "2025-01-01", "s", "p"]).fetchall()
    return str(rows[0][0]) if rows[0][0] is not None else None


def page(url: str = SHOP, referrer: str = "", **campaign: str) -> dict[str, Any]:
    ctx: dict[str, Any] = {"page": {"url": url, "referrer": referrer}}
    if campaign:
        ctx["campaign"] = campaign
    return ctx


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (page(), "direct"),
        (page(referrer="https://www.google.de/search?q=schuhe"), "organic_search"),
        (page(referrer="https://www.ecosia.org/"), "organic_search"),
        (page(SHOP + "?gclid=abc", "https://www.google.de/"), "paid_search"),
        (page(SHOP + "?msclkid=abc"), "paid_search"),
        (page(source="google", medium="cpc"), "paid_search"),
        (page(source="facebook", medium="paid_social"), "paid_social"),
        (page(source="facebook", medium="cpc"), "paid_social"),
        (page(referrer="https://l.facebook.com/"), "organic_social"),
        (page(referrer="https://www.linkedin.com/feed/"), "organic_social"),
        (page(referrer="https://t.co/xyz"), "organic_social"),
        (page(referrer="https://target.com/"), "referral"),
        (page(referrer="https://www.youtube.com/watch"), "organic_video"),
        (page(source="newsletter", medium="email"), "email"),
        (page(source="crm", medium="E-Mail"), "email"),
        (page(source="partner", medium="affiliate"), "affiliate"),
        (page(source="gdn", medium="display"), "display"),
        (page(source="idealo", medium="cpc"), "paid_shopping"),
        (page(referrer="https://www.idealo.de/"), "organic_shopping"),
        (page(referrer="https://blog.example.org/post"), "referral"),
        (page(source="whatever", medium="whatever"), "unassigned"),
        (page(SHOP + "p/1", SHOP), None),  # internal navigation: inherits the session's channel
        (page("https://shop.de/p/1", "https://www.shop.de/cart"), None),
        # userinfo, ports and upper case do not change the host
        (page("https://www.shop.de:8443/p", "https://user@WWW.Shop.de:8443/x"), None),
        (page(SHOP, "https://user:pw@www.google.de:443/"), "organic_search"),
        ({"click_ids": {"ttclid": "x"}}, "paid_social"),
        (page(SHOP + "?sccid=abc"), "paid_social"),  # Snapchat's click id
        (page(SHOP + "?a=1&wbraid=x", "https://www.google.de/"), "paid_search"),
        (page(SHOP + "gclid/1"), "direct"),  # a path, not a click id
        # internal navigation, however the URLs are written
        (page("http://www.shop.de/p/2", "http://www.shop.de/p/1"), None),
        (page("https://www.shop.de", "https://www.shop.de/x"), None),
        (page("HTTPS://WWW.SHOP.DE/p", "https://www.shop.de/x"), None),
        (page("https://user@www.shop.de/p", "https://user@www.shop.de/x"), None),
        (page("https://www.shop.de/p", "https://www.shop.de.evil.com/x"), "referral"),
        # the same authority without a host: as if there were no referrer
        (page("https://:8443/p", "https://:8443/x"), "direct"),
        (page("https://user@/p", "https://user@/x"), "direct"),
        ({"locale": "de-DE"}, "direct"),  # a page view with no referrer
        (None, None),
    ],
)
@pytest.mark.parametrize("path", ["context", "typed-inputs", "per-value", "distinct"])
def test_channel_follows_the_default_channel_grouping(
    context: dict[str, Any] | None, expected: str | None, path: str
) -> None:
    assert classify(context, typed=path != "context", per_value=path == "per-value",
                    distinct=path == "distinct") == expected


def test_server_events_without_web_context_get_no_channel() -> None:
    assert classify({"library": {"name": "analytics-python"}}, type_="track") is None
    assert classify({"library": {"name": "analytics-python"}}, type_="track", distinct=True) is None


def test_the_collector_classifies_each_distinct_input_once_and_keeps_a_given_channel() -> None:
    con = duckdb.connect()
    google = json.dumps(page(referrer="https://www.google.de/"))
    internal = json.dumps(page(SHOP + "p/1", SHOP))
    events = pa.table({
        "type": ["page", "page", "page", "track", "Page", "page", "page"],
        "context": [google, internal, google, google, google, google, None],
        "channel": [None, None, "email", None, None, "", None],
    })
    cache = ChannelCache()
    expected = ["organic_search", None, "email", None, "organic_search", "organic_search", None]
    assert cache.channels(con, events).to_pylist() == expected
    assert len(cache._known) == 4  # google and internal page views, a track event, no context
    assert cache.channels(con, events.slice(1, 2)).to_pylist() == [None, "email"]


def test_server_events_with_a_click_id_get_its_channel() -> None:
    ctx = {"page": {"url": SHOP + "?gclid=1"}}
    assert classify(ctx, type_="track") == "paid_search"
    assert classify(ctx, type_="track", typed=True) == "paid_search"
    assert classify(ctx, type_="track", typed=True, per_value=True) == "paid_search"
    assert classify(ctx, type_="track", distinct=True) == "paid_search"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        # paid sources come before Display: "cpm" matches the paid medium regex
        (page(source="facebook", medium="cpm"), "paid_social"),
        (page(source="google", medium="CPM"), "paid_search"),
        (page(source="some-network", medium="cpm"), "display"),
        (page(source="Google", medium="CPC"), "paid_search"),
        (page(source="google", medium="cpc", name="DE Cross-Network PMax"), "cross_network"),
        # the organic rules come before Email, Affiliates, SMS, push and Audio
        (page(source="google", medium="email"), "organic_search"),
        (page(source="facebook", medium="affiliate"), "organic_social"),
        (page(source="newsletter", medium="social"), "organic_social"),
        # every e-mail spelling GA4 knows, in source or medium, in any case
        (page(source="e-mail", medium="link-1"), "email"),
        (page(source="E_Mail"), "email"),
        (page(source="crm", medium="e mail"), "email"),
        (page(source="awin", medium="Affiliates"), "affiliate"),
        (page(source="firebase"), "mobile_push"),
        (page(source="app", medium="app-push"), "mobile_push"),
        (page(source="(direct)", medium="(none)"), "direct"),
        (page(source="(direct)", medium="(not set)"), "direct"),
        # Android apps send android-app://<package>/ as the referrer
        (page(referrer="android-app://com.google.android.gm/"), "email"),
        (page(referrer="android-app://com.google.android.googlequicksearchbox/https/www.google.com"),
         "organic_search"),
        (page(referrer="android-app://com.linkedin.android/"), "organic_social"),
        (page(referrer="android-app://com.slack/"), "referral"),
    ],
)
@pytest.mark.parametrize("path", ["context", "typed-inputs", "per-value", "distinct"])
def test_channel_follows_ga4s_rule_order_on_tricky_inputs(
    context: dict[str, Any], expected: str, path: str
) -> None:
    assert classify(context, typed=path != "context", per_value=path == "per-value",
                    distinct=path == "distinct") == expected


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        # a whole-domain entry (GA4 lists ask.com) matches it and its subdomains only
        ("https://ask.com/web?q=x", "organic_search"),
        ("https://www.ask.com/", "organic_search"),
        ("https://de.ask.com/", "organic_search"),
        ("https://ask.fm/someone", "referral"),  # a Q&A site, not a search engine
        ("https://ask.com.example.org/", "referral"),
        # a site's name matches its registrable domain under any public suffix ...
        ("https://www.google.co.uk/", "organic_search"),
        ("https://www.google.com.br/", "organic_search"),
        ("https://search.yahoo.co.jp/", "organic_search"),
        # ... and not as a label of someone else's domain
        ("https://yahoo.example.org/", "referral"),
        ("https://google.evil-shop.com/", "referral"),
        ("https://www.bing.example.de/", "referral"),
        # generic labels match anywhere in the host, as before
        ("https://webmail.strato.de/", "email"),
        # the longer entry still wins over the site's name
        ("https://shopping.google.de/", "organic_shopping"),
        ("https://mail.google.com/", "email"),
    ],
)
@pytest.mark.parametrize("path", ["context", "typed-inputs", "per-value", "distinct"])
def test_search_engines_match_on_the_registrable_domain_not_a_prefix_of_another(
    referrer: str, expected: str, path: str
) -> None:
    assert classify(page(referrer=referrer), typed=path != "context",
                    per_value=path == "per-value", distinct=path == "distinct") == expected


def test_a_utm_source_naming_a_search_engine_is_still_search() -> None:
    assert classify(page(source="bing", medium="cpc")) == "paid_search"
    assert classify(page(source="ask.com")) == "organic_search"
    assert classify(page(source="ask.fm")) == "unassigned"


def test_the_collector_leaves_rounds_of_unique_inputs_to_the_sql_for_a_while() -> None:
    from cxlens.ingest.channel_cache import SKIP_ROUNDS, UNIQUE_ROUND_ROWS

    con = duckdb.connect()
    n = UNIQUE_ROUND_ROWS
    events = pa.table({
        "type": ["page"] * n,
        "context": [json.dumps(page(f"{SHOP}?nocache={i}", "https://www.google.de/")) for i in range(n)],
        "channel": pa.nulls(n, pa.string()),
    })
    cache = ChannelCache()
    first = cache.channels(con, events)
    assert first is not None and set(first.to_pylist()) == {"organic_search"}
    assert not cache._known  # nothing worth remembering
    assert [cache.channels(con, events) for _ in range(SKIP_ROUNDS)] == [None] * SKIP_ROUNDS
    assert cache.channels(con, events) is not None
