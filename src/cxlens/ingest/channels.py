"""Which channel brought an event: GA4's default channel grouping, as one SQL expression.

Web analysts know GA4's rules, so we follow them: utm_medium and utm_source first,
then click ids, then the referrer's domain. Only events that carry acquisition
information get a channel here; a page view whose referrer is the site itself is
internal navigation and gets NULL, so that query-time sessionisation can give it the
channel of the session's landing page (which is what GA4 reports for a session).
Events from importers of non-web systems bring their own channel (CRM -> sales,
helpdesk -> support, shop backend -> store) and are never re-classified.

The expression is built from the constant lists below; nothing in it comes from a user.
"""

from __future__ import annotations

from typing import Final

CHANNELS: Final = {
    "direct": ("Direkt", "Direct"),
    "organic_search": ("Organische Suche", "Organic Search"),
    "paid_search": ("Bezahlte Suche", "Paid Search"),
    "organic_social": ("Organische Social Media", "Organic Social"),
    "paid_social": ("Bezahlte Social Media", "Paid Social"),
    "organic_video": ("Organisches Video", "Organic Video"),
    "paid_video": ("Bezahltes Video", "Paid Video"),
    "organic_shopping": ("Organisches Shopping", "Organic Shopping"),
    "paid_shopping": ("Bezahltes Shopping", "Paid Shopping"),
    "display": ("Display", "Display"),
    "email": ("E-Mail", "Email"),
    "affiliate": ("Affiliate", "Affiliates"),
    "referral": ("Verweis", "Referral"),
    "sms": ("SMS", "SMS"),
    "mobile_push": ("Push-Benachrichtigung", "Mobile Push Notifications"),
    "audio": ("Audio", "Audio"),
    "paid_other": ("Sonstige bezahlte", "Paid Other"),
    "unassigned": ("Nicht zugeordnet", "Unassigned"),
    # channels of non-web touchpoints, set by importers and the simulator
    "store": ("Shop", "Shop"),
    "sales": ("Vertrieb", "Sales"),
    "support": ("Kundenservice", "Support"),
    "delivery": ("Lieferung", "Delivery"),
    "survey": ("Umfrage", "Survey"),
    "app": ("App", "App"),
}

SEARCH_DOMAINS: Final = (
    "google", "bing", "yahoo", "duckduckgo", "ecosia", "baidu", "yandex", "qwant",
    "startpage", "ask", "aol", "naver", "seznam", "metager", "search.brave", "suche.web.de",
    "suche.gmx", "suche.t-online", "yandex", "so.com", "sogou", "perplexity",
)
SOCIAL_DOMAINS: Final = (
    "facebook", "instagram", "linkedin", "lnkd.in", "twitter", "t.co", "x.com", "pinterest",
    "reddit", "tiktok", "xing", "snapchat", "whatsapp", "telegram", "threads.net", "mastodon",
    "tumblr", "quora", "vk.com", "discord", "bsky",
)
VIDEO_DOMAINS: Final = ("youtube", "youtu.be", "vimeo", "twitch", "dailymotion")
SHOPPING_DOMAINS: Final = ("shopping.google", "idealo", "geizhals", "billiger.de", "shopping")
EMAIL_DOMAINS: Final = ("mail.google", "outlook.live", "outlook.office", "webmail", "mail.yahoo",
                        "email.t-online", "navigator.web.de", "navigator.gmx")

_PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*)$"
_EMAIL_MEDIUM = r"^(email|e-mail|e_mail|e mail|newsletter|mail)$"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _domain_match(host: str, domains: tuple[str, ...]) -> str:
    # A domain entry matches as a whole label sequence: "t.co" must not match "target.com".
    alternatives = "|".join(d.replace(".", r"\.") for d in domains)
    pattern = _lit(r"(^|\.)(" + alternatives + r")(\.|$)")
    return f"regexp_matches({host}, {pattern})"


def channel_sql(context: str = "context", type_col: str = "type") -> str:
    """SQL expression giving the channel id for a row with a JSON ``context``; NULL when
    the row carries no acquisition information (internal navigation, server events)."""
    src = f"lower(json_extract_string({context}, '$.campaign.source'))"
    med = f"lower(json_extract_string({context}, '$.campaign.medium'))"
    camp = f"lower(coalesce(json_extract_string({context}, '$.campaign.name'), ''))"
    url = f"coalesce(json_extract_string({context}, '$.page.url'), '')"
    ref = f"coalesce(json_extract_string({context}, '$.page.referrer'), '')"
    host_re = _lit(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://(?:[^@/]*@)?([^/:?#]+)")
    ref_host = f"lower(regexp_extract({ref}, {host_re}, 1))"
    url_host = f"lower(regexp_extract({url}, {host_re}, 1))"
    clicks = f"coalesce(json_extract({context}, '$.click_ids')::VARCHAR, '')"

    def has_click(*names: str) -> str:
        alt = "|".join(names)
        in_url = _lit("[?&](" + alt + ")=")
        in_clicks = _lit('"(' + alt + ')"')
        return f"(regexp_matches({url}, {in_url}) OR regexp_matches({clicks}, {in_clicks}))"

    paid_med = f"regexp_matches({med}, {_lit(_PAID_MEDIUM)})"
    s = src
    search_src = _domain_match(s, SEARCH_DOMAINS)
    social_src = _domain_match(s, SOCIAL_DOMAINS) + f" OR {s} IN ('fb', 'ig', 'li', 'social')"
    video_src = _domain_match(s, VIDEO_DOMAINS)
    shop_src = _domain_match(s, SHOPPING_DOMAINS) + f" OR regexp_matches({camp}, '^(.*(([^a-df-z]|^)shop|shopping).*)$')"
    with_utm = f"""
        WHEN {med} IN ('display', 'banner', 'expandable', 'interstitial', 'cpm') THEN 'display'
        WHEN ({shop_src}) AND {paid_med} THEN 'paid_shopping'
        WHEN ({search_src}) AND {paid_med} THEN 'paid_search'
        WHEN ({social_src}) AND {paid_med} THEN 'paid_social'
        WHEN ({video_src}) AND {paid_med} THEN 'paid_video'
        WHEN {paid_med} THEN 'paid_other'
        WHEN regexp_matches({med}, {_lit(_EMAIL_MEDIUM)}) OR {s} IN ('email', 'newsletter') THEN 'email'
        WHEN {med} = 'affiliate' THEN 'affiliate'
        WHEN {med} IN ('sms') OR {s} = 'sms' THEN 'sms'
        WHEN regexp_matches({med}, '(mobile|notification|push)') THEN 'mobile_push'
        WHEN {med} IN ('audio', 'podcast') THEN 'audio'
        WHEN ({shop_src}) THEN 'organic_shopping'
        WHEN ({social_src}) OR {med} IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'organic_social'
        WHEN ({video_src}) OR regexp_matches({med}, '^(.*video.*)$') THEN 'organic_video'
        WHEN ({search_src}) OR {med} = 'organic' THEN 'organic_search'
        WHEN {med} IN ('referral', 'app', 'link') THEN 'referral'
    """
    rh = ref_host
    return f"""(CASE
        WHEN {context} IS NULL THEN NULL
        WHEN {src} IS NOT NULL OR {med} IS NOT NULL THEN (CASE {with_utm} ELSE 'unassigned' END)
        WHEN {has_click('gclid', 'gbraid', 'wbraid', 'msclkid', 'yclid')} THEN 'paid_search'
        WHEN {has_click('dclid')} THEN 'display'
        WHEN {has_click('ttclid', 'li_fat_id', 'twclid', 'sccid', 'epik')} THEN 'paid_social'
        WHEN {rh} = '' THEN (CASE WHEN {type_col} IN ('page', 'screen') THEN 'direct' ELSE NULL END)
        WHEN {rh} = {url_host} OR (length({url_host}) > 0 AND ends_with({rh}, '.' || {url_host}))
             THEN NULL
        WHEN {_domain_match(rh, EMAIL_DOMAINS)} THEN 'email'
        WHEN {_domain_match(rh, SHOPPING_DOMAINS)} THEN 'organic_shopping'
        WHEN {_domain_match(rh, VIDEO_DOMAINS)} THEN 'organic_video'
        WHEN {_domain_match(rh, SOCIAL_DOMAINS)} THEN 'organic_social'
        WHEN {_domain_match(rh, SEARCH_DOMAINS)} THEN 'organic_search'
        ELSE 'referral'
    END)"""
