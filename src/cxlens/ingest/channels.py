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
    "cross_network": ("Netzwerkübergreifend", "Cross-network"),
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
# com.google.android.gm: the Gmail app's android-app:// referrer
EMAIL_DOMAINS: Final = ("mail.google", "com.google.android.gm", "outlook.live", "outlook.office", "webmail", "mail.yahoo",
                        "email.t-online", "navigator.web.de", "navigator.gmx")

_PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*)$"
_EMAIL_MEDIUM = r"^(email|e-mail|e_mail|e mail|newsletter|mail)$"
_EMAIL_SOURCES: Final = ("email", "e-mail", "e_mail", "e mail", "newsletter")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_CLICK_PAID_SEARCH: Final = ("gclid", "gbraid", "wbraid", "msclkid", "yclid")
_CLICK_DISPLAY: Final = ("dclid",)
_CLICK_PAID_SOCIAL: Final = ("ttclid", "li_fat_id", "twclid", "sccid", "epik")

_KNOWN = (
    ("email", EMAIL_DOMAINS), ("shopping", SHOPPING_DOMAINS), ("video", VIDEO_DOMAINS),
    ("social", SOCIAL_DOMAINS), ("search", SEARCH_DOMAINS),
)


def _site_kind(host: str) -> str:
    """One regex per host instead of one per domain list: find the first known domain in
    the host, then look its kind up by position in two list literals (``IN`` lists of
    this size become joins in DuckDB's plan, which made every append slow to plan)."""
    every = sorted({d for _, domains in _KNOWN for d in domains}, key=len, reverse=True)
    kind_of = {}
    for kind, domains in reversed(_KNOWN):  # earlier kinds win on overlaps
        kind_of.update(dict.fromkeys(domains, kind))
    # longest first, so that shopping.google wins over google
    pattern = _lit(r"(?:^|\.)(" + "|".join(d.replace(".", r"\.") for d in every) + r")(?:\.|$)")
    label = f"regexp_extract({host}, {pattern}, 1)"
    labels = "[" + ", ".join(_lit(d) for d in every) + "]"
    kinds = "[" + ", ".join(_lit(kind_of[d]) for d in every) + "]"
    return f"coalesce({kinds}[list_position({labels}, {label})], '')"


def _host(url: str) -> str:
    """The lower-cased host of a URL. One regex that RE2 runs one-pass (the authority up to
    the first / ? #: no capture can end in two places), then userinfo and port are cut off
    with plain string functions. A regex that skipped the userinfo itself could not run
    one-pass and was 3x slower; a chain of split_part calls alone is as fast to run but
    DuckDB's planning time doubles with every nesting level."""
    pattern = _lit(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://([^/?#]*)")
    auth = f"regexp_extract(coalesce({url}, ''), {pattern}, 1)"
    # split_part splits the whole string into a list: only for the rare authorities
    # with userinfo or a port
    host = (f"split_part(CASE WHEN contains({auth}, '@') THEN split_part({auth}, '@', -1)"
            f" ELSE {auth} END, ':', 1)")
    return (f"lower(CASE WHEN contains({auth}, ':') OR contains({auth}, '@') THEN {host}"
            f" ELSE {auth} END)")


#: Optional typed inputs of the classification an importer may pass to ``Workspace.append``
#: next to ``context`` (which must hold the same values): campaign source, medium and
#: name, page url and referrer, click ids (as JSON). They spare the JSON parse per row;
#: they are never stored.
CHANNEL_INPUT_COLUMNS: Final = (
    "_channel_source", "_channel_medium", "_channel_campaign", "_channel_url",
    "_channel_referrer", "_channel_click_ids",
)
#: where the context JSON holds them
CHANNEL_INPUT_PATHS: Final = (
    "campaign.source", "campaign.medium", "campaign.name", "page.url", "page.referrer",
    "click_ids",
)
#: the same inputs as the layers name them
_INPUTS: Final = tuple(f"_cf{i}" for i in range(1, 7))
#: substrings that betray a click id in a URL or in the click_ids object
CLICK_MARKERS: Final = ("clid", "clkid", "braid", "li_fat_id", "epik")


def maybe_click_id(url: str, click_ids: str) -> str:
    """A cheap test: could this URL or click_ids JSON hold a click id?"""
    tests = [f"contains({s}, {_lit(c)})" for s in (url, click_ids) for c in CLICK_MARKERS]
    return "coalesce(" + " OR ".join(tests) + ", false)"


def channel_layers(context: str = "context") -> list[list[str]]:
    """Lists of ``expr AS name`` items for nested SELECT layers (innermost first) that
    prepare the inputs of ``channel_from_layers``; nesting makes DuckDB parse the JSON and
    run each regex once per row instead of once per CASE branch."""
    fields = (
        f"json_extract_string({context}, ['$.campaign.source', '$.campaign.medium', "
        "'$.campaign.name', '$.page.url', '$.page.referrer', '$.click_ids'])"
    )
    first = [f"{fields} AS _cf"]
    unpack = [f"_cf[{i + 1}] AS {name}" for i, name in enumerate(_INPUTS)]
    return [first, unpack, *input_layers()]


def input_layers() -> list[list[str]]:
    """The layers over the six inputs ``_cf1`` .. ``_cf6`` (see CHANNEL_INPUT_COLUMNS)."""
    src, med, camp, url, ref, ids = _INPUTS
    clicks = f"coalesce({url}, '') || ' ' || coalesce({ids}, '')"
    every_click = _CLICK_PAID_SEARCH + _CLICK_DISPLAY + _CLICK_PAID_SOCIAL
    # cheap substring tests first; the regex runs only on the rare rows with a click id
    click_re = _lit('[?&"](' + "|".join(every_click) + ')["=]')
    second = [
        f"lower({src}) AS _c_src",
        f"lower({med}) AS _c_med",
        f"lower(coalesce({camp}, '')) AS _c_camp",
        f"{_host(ref)} AS _c_ref",
        f"{_host(url)} AS _c_host",
        f"CASE WHEN {maybe_click_id(url, ids)} THEN regexp_extract({clicks}, {click_re}, 1)"
        " ELSE '' END AS _c_click",
    ]
    # the site kinds are computed once here: inlined into every CASE branch that needs
    # them they made the expression (and DuckDB's planning time) many times larger
    # (the referrer's kind is needed in one branch only and is computed there: most
    # referrers are the site's own pages, internal navigation, which needs no kind)
    third = [f"{_site_kind('_c_src')} AS _c_src_kind"]
    return [second, third]


def channel_from_layers(context: str = "context", type_col: str = "type") -> str:
    """The channel expression over the columns ``channel_layers`` prepared."""
    src, med, camp = "_c_src", "_c_med", "_c_camp"
    paid_med = f"regexp_matches({med}, {_lit(_PAID_MEDIUM)})"
    src_kind = "_c_src_kind"
    shop_camp = f"regexp_matches({camp}, '^(.*(([^a-df-z]|^)shop|shopping).*)$')"
    social_src = f"({src_kind} = 'social' OR {src} IN ('fb', 'ig', 'li', 'social'))"
    display_med = f"{med} IN ('display', 'banner', 'expandable', 'interstitial', 'cpm')"
    email_src = f"{src} IN ({', '.join(_lit(e) for e in _EMAIL_SOURCES)})"
    # GA4's order: the first rule that matches wins (Paid * before Display, which takes
    # 'cpm' from known sources; the organic rules before Email, Affiliates, SMS and push)
    with_utm = f"""
        WHEN {src} = '(direct)' AND coalesce({med}, '(none)') IN ('(none)', '(not set)') THEN 'direct'
        WHEN contains({camp}, 'cross-network') THEN 'cross_network'
        WHEN {paid_med} THEN (CASE
            WHEN {src_kind} = 'shopping' OR {shop_camp} THEN 'paid_shopping'
            WHEN {src_kind} = 'search' THEN 'paid_search'
            WHEN {social_src} THEN 'paid_social'
            WHEN {src_kind} = 'video' THEN 'paid_video'
            WHEN {display_med} THEN 'display'
            ELSE 'paid_other' END)
        WHEN {display_med} THEN 'display'
        WHEN {src_kind} = 'shopping' OR {shop_camp} THEN 'organic_shopping'
        WHEN {social_src} OR {med} IN ('social', 'social-network', 'social-media', 'sm', 'social network', 'social media') THEN 'organic_social'
        WHEN {src_kind} = 'video' OR regexp_matches({med}, '^(.*video.*)$') THEN 'organic_video'
        WHEN {src_kind} = 'search' OR {med} = 'organic' THEN 'organic_search'
        WHEN {med} IN ('referral', 'app', 'link') THEN 'referral'
        WHEN regexp_matches({med}, {_lit(_EMAIL_MEDIUM)}) OR {email_src} THEN 'email'
        WHEN {med} IN ('affiliate', 'affiliates') THEN 'affiliate'
        WHEN {med} IN ('audio', 'podcast') THEN 'audio'
        WHEN {med} = 'sms' OR {src} = 'sms' THEN 'sms'
        WHEN regexp_matches({med}, '(mobile|notification|push)') OR {src} = 'firebase' THEN 'mobile_push'
    """
    click = "_c_click"

    def in_list(names: tuple[str, ...]) -> str:
        return ", ".join(_lit(n) for n in names)

    rh, uh = "_c_ref", "_c_host"
    return f"""(CASE
        WHEN {context} IS NULL THEN NULL
        WHEN {type_col} NOT IN ('page', 'screen') AND {src} IS NULL AND {med} IS NULL
             AND {click} = '' THEN NULL
        WHEN {src} IS NOT NULL OR {med} IS NOT NULL THEN (CASE {with_utm} ELSE 'unassigned' END)
        WHEN {click} IN ({in_list(_CLICK_PAID_SEARCH)}) THEN 'paid_search'
        WHEN {click} IN ({in_list(_CLICK_DISPLAY)}) THEN 'display'
        WHEN {click} IN ({in_list(_CLICK_PAID_SOCIAL)}) THEN 'paid_social'
        WHEN {rh} = '' THEN (CASE WHEN {type_col} IN ('page', 'screen') THEN 'direct' ELSE NULL END)
        WHEN {rh} = {uh} THEN NULL
        WHEN length({uh}) > 0 AND (ends_with({rh}, '.' || {uh}) OR ends_with({uh}, '.' || {rh}))
             THEN NULL
        ELSE (CASE {_site_kind(rh)}
            WHEN 'email' THEN 'email' WHEN 'shopping' THEN 'organic_shopping'
            WHEN 'video' THEN 'organic_video' WHEN 'social' THEN 'organic_social'
            WHEN 'search' THEN 'organic_search' ELSE 'referral' END)
    END)"""


def channel_sql(context: str = "context", type_col: str = "type") -> str:
    """A self-contained scalar subquery-free expression (for small inputs and tests):
    the layers inlined. The append path uses the nested layers instead."""
    expr = channel_from_layers(context, type_col)
    for layer in reversed(channel_layers(context)):
        for item in layer:
            value, name = item.rsplit(" AS ", 1)
            expr = expr.replace(name, f"({value})")
    return expr
