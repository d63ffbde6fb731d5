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
    # a step of an organisation's process, from a process-mining (XES) log
    "process": ("Prozess", "Process"),
}

SEARCH_DOMAINS: Final = (
    "google", "bing", "yahoo", "duckduckgo", "ecosia", "baidu", "yandex", "qwant",
    "startpage", "ask.com", "aol", "naver", "seznam", "metager", "search.brave", "suche.web.de",
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


def _one_of(expr: str, values: tuple[str, ...]) -> str:
    """``expr IN (values)`` as ORed equalities: DuckDB plans an ``IN`` list of five or
    more constants as a mark join over every row of the stream, even inside a CASE
    branch only a few rows reach, and the join needs its input computed for every row."""
    return "(" + " OR ".join(f"{expr} = {_lit(v)}" for v in values) + ")"


_CLICK_PAID_SEARCH: Final = ("gclid", "gbraid", "wbraid", "msclkid", "yclid")
_CLICK_DISPLAY: Final = ("dclid",)
_CLICK_PAID_SOCIAL: Final = ("ttclid", "li_fat_id", "twclid", "sccid", "epik")

_SOCIAL_MEDIUMS: Final = ("social", "social-network", "social-media", "sm", "social network",
                          "social media")

_KNOWN = (
    ("email", EMAIL_DOMAINS), ("shopping", SHOPPING_DOMAINS), ("video", VIDEO_DOMAINS),
    ("social", SOCIAL_DOMAINS), ("search", SEARCH_DOMAINS),
)


#: Entries that are a whole domain (they end in a top-level domain): they match that
#: domain and its subdomains, never a longer name (``ask.com``, not ``ask.com.example``).
_FULL_DOMAIN_TLDS: Final = ("com", "net", "org", "de", "co", "in", "be", "gm")
#: Entries that are generic host labels rather than a site: they match as any label of
#: the host (``webmail.provider.de``, ``shopping.yahoo.com``), as they always have.
_GENERIC_LABELS: Final = ("webmail", "shopping")
#: What may follow a site's name (``google``) in its registrable domain: one top-level
#: domain (``google.de``) or a country's second-level suffix (``google.co.uk``,
#: ``yahoo.co.jp``, ``google.com.br``), and nothing else: ``yahoo.example.org`` is
#: example.org's, not Yahoo's.
_PUBLIC_SUFFIX: Final = r"(?:\.(?:co|com|net|org|ac|gov|edu|or|ne|gob|gv)\.[a-z]{2}|\.[a-z0-9-]+)?"


def _site_kind(host: str) -> str:
    """One regex per host instead of one per domain list: find the known domain the host
    belongs to, then look its kind up by position in two list literals (``IN`` lists of
    this size become joins in DuckDB's plan, which made every append slow to plan).

    A site's name matches the host's registrable domain: ``google`` matches
    ``www.google.co.uk`` but not ``google.example.org``; a whole domain (``ask.com``)
    matches itself and its subdomains (``de.ask.com``), not a longer name, so ``ask.fm``
    is a referral (a whole domain, like a name, may be followed by a public suffix:
    ``ask.com.au``). The second pattern's ``regexp_replace`` leaves the entry found or,
    with no match, the host itself, which is then no entry."""
    every = sorted({d for _, domains in _KNOWN for d in domains}, key=len, reverse=True)
    kind_of = {}
    for kind, domains in reversed(_KNOWN):  # earlier kinds win on overlaps
        kind_of.update(dict.fromkeys(domains, kind))

    def alternatives(domains: list[str]) -> str:
        return "|".join(d.replace(".", r"\.") for d in domains)

    generic = [d for d in every if d in _GENERIC_LABELS]
    sites = [d for d in every if d not in generic]
    names = [d for d in sites if d.rsplit(".", 1)[-1] not in _FULL_DOMAIN_TLDS or "." not in d]
    # one unanchored search with one group (a pattern anchored at both ends with four
    # groups cost twice as much per host): the leftmost entry wins and, at the same
    # label, the first (longest first: shopping.google before google)
    site = _lit(rf"(?:^|\.)({alternatives(sites)}){_PUBLIC_SUFFIX}$")
    # only hosts no site matched (referrals) pay the second, small pattern: a generic
    # label anywhere, or an Android app's package (android-app://com.google.android.
    # googlequicksearchbox/) read as the reversed domain it is
    other = _lit(rf"^(?:.*\.)?({alternatives(generic)})(?:\..*)?$|^com\.({alternatives(names)})\..*$")
    label = (f"coalesce(nullif(regexp_extract({host}, {site}, 1), ''),"
             f" regexp_replace({host}, {other}, '\\1\\2'))")
    labels = "[" + ", ".join(_lit(d) for d in every) + "]"
    kinds = "[" + ", ".join(_lit(kind_of[d]) for d in every) + "]"
    return f"coalesce({kinds}[list_position({labels}, {label})], '')"


def _host(url: str) -> str:
    """The lower-cased host of a URL ('' when it has none). One regex that RE2 runs
    one-pass (the authority up to the first / ? #: no capture can end in two places),
    then userinfo and port are cut off with plain string functions. A regex that skipped
    the userinfo itself could not run one-pass and was 3x slower; a chain of split_part
    calls alone is as fast to run but DuckDB's planning time doubles with every nesting
    level. A NULL URL stays NULL until the end: DuckDB skips NULL rows in every function,
    whereas the regex on an empty string costs as much as on a URL (0.16 CPU-s per 2M
    rows)."""
    pattern = _lit(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://([^/?#]*)")
    auth = f"regexp_extract({url}, {pattern}, 1)"
    # split_part splits the whole string into a list: only for the rare authorities
    # with userinfo or a port
    host = (f"split_part(CASE WHEN contains({auth}, '@') THEN split_part({auth}, '@', -1)"
            f" ELSE {auth} END, ':', 1)")
    return (f"coalesce(lower(CASE WHEN contains({auth}, ':') OR contains({auth}, '@') THEN {host}"
            f" ELSE {auth} END), '')")


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
#: substrings that betray a click id in a URL or in the click_ids object (every click id
#: name above contains one of them)
CLICK_MARKERS: Final = ("clid", "clkid", "braid", "li_fat_id", "epik", "sccid")


def maybe_click_id(url: str, click_ids: str) -> str:
    """A cheap test: could this URL or click_ids JSON hold a click id? (A necessary
    condition of the click id regex in ``input_layers``.) In a URL a click id follows a
    ``?``, ``&`` or ``"``: three one-byte searches rule out nearly every URL before the
    marker searches run (ten substring searches on every row cost 0.2 CPU-s per 2M)."""
    def markers(s: str) -> str:
        return " OR ".join(f"contains({s}, {_lit(c)})" for c in CLICK_MARKERS)

    return (f"(CASE WHEN contains({url}, '?') OR contains({url}, '&') OR contains({url}, '\"')"
            f" THEN {markers(url)} ELSE false END"
            f" OR CASE WHEN {click_ids} IS NULL THEN false ELSE {markers(click_ids)} END)")


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


def _same_site(url: str, ref: str) -> str:
    """A cheap sufficient test that the referrer has the URL's host (internal navigation,
    the most common page view), so that neither host regex need run: the referrer starts
    with the URL's ``http(s)://authority/``. Then both regexes would extract the same
    authority; it has a host when it is not empty, has no userinfo and does not start
    with a port, ``?`` or ``#``. Anything else (other schemes, upper case, no path) goes
    the regex way."""
    def same(start: int) -> str:
        # start: the position of the authority's first character
        end = f"strpos(substr({url}, {start}), '/')"  # 1-based, of the '/' ending it
        origin = f"left({url}, {start - 1} + {end})"
        return (f"CASE WHEN {end} < 2 OR substr({url}, {start}, 1) IN (':', '?', '#') THEN false"
                f" ELSE starts_with({ref}, {origin}) AND NOT contains({origin}, '@') END")

    return (f"CASE WHEN {ref} IS NULL OR {url} IS NULL THEN false"
            f" WHEN starts_with({url}, 'https://') THEN {same(9)}"
            f" WHEN starts_with({url}, 'http://') THEN {same(8)} ELSE false END")


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
        f"coalesce(lower({camp}), '') AS _c_camp",
        f"{_same_site(url, ref)} AS _c_same",
        f"CASE WHEN {maybe_click_id(url, ids)} THEN regexp_extract({clicks}, {click_re}, 1)"
        " ELSE '' END AS _c_click",
    ]
    # the site kinds are computed once here: inlined into every CASE branch that needs
    # them they made the expression (and DuckDB's planning time) many times larger
    # (the referrer's kind is needed in one branch only and is computed there: most
    # referrers are the site's own pages, internal navigation, which needs no kind).
    # Internal navigation gets no hosts at all (NULL inputs skip every function).
    third = [
        f"{_host(f'CASE WHEN _c_same THEN NULL ELSE {ref} END')} AS _c_ref",
        f"{_host(f'CASE WHEN _c_same THEN NULL ELSE {url} END')} AS _c_host",
        f"{_site_kind('_c_src')} AS _c_src_kind",
    ]
    return [second, third]


def per_value_layers() -> list[list[str]]:
    """The layers of ``input_layers``, computed from the typed input columns
    (CHANNEL_INPUT_COLUMNS) as they come, with no per-row mask: every expression is a
    function of one input column and constants. When the inputs arrive dictionary-encoded
    (DuckDB's Parquet scan of dictionary-encoded columns) DuckDB evaluates such an
    expression once per dictionary entry, so the host and click-id regexes cost next to
    nothing (the benchmark file: 216 distinct referrers in 2M rows). On plain text (CSV)
    the same expressions run on every row, 5x slower than ``input_layers``: only for
    dictionary-encoded inputs. The host regex here skips the userinfo itself (not
    one-pass, but per value that no longer matters) and matches ``_host`` exactly."""
    src, med, camp, url, ref, ids = CHANNEL_INPUT_COLUMNS
    every_click = _CLICK_PAID_SEARCH + _CLICK_DISPLAY + _CLICK_PAID_SOCIAL
    click_re = _lit('[?&"](' + "|".join(every_click) + ')["=]')
    host_re = _lit(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://(?:[^/?#]*@)?([^/?#:]*)")
    first = [
        f"lower({src}) AS _c_src",
        f"lower({med}) AS _c_med",
        f"coalesce(lower({camp}), '') AS _c_camp",
        f"coalesce(lower(regexp_extract({ref}, {host_re}, 1)), '') AS _c_ref",
        f"coalesce(lower(regexp_extract({url}, {host_re}, 1)), '') AS _c_host",
        # a click id in the URL comes first, as in the regex over "url ids" it replaces
        f"regexp_extract({url}, {click_re}, 1) AS _c_click_url",
        f"regexp_extract({ids}, {click_re}, 1) AS _c_click_ids",
        "false AS _c_same",
    ]
    second = [
        f"{_site_kind('_c_src')} AS _c_src_kind",
        "coalesce(nullif(_c_click_url, ''), _c_click_ids, '') AS _c_click",
    ]
    return [first, second]


def channel_from_layers(context: str = "context", type_col: str = "type") -> str:
    """The channel expression over the columns ``channel_layers`` prepared."""
    src, med, camp = "_c_src", "_c_med", "_c_camp"
    paid_med = f"regexp_matches({med}, {_lit(_PAID_MEDIUM)})"
    src_kind = "_c_src_kind"
    shop_camp = f"regexp_matches({camp}, '^(.*(([^a-df-z]|^)shop|shopping).*)$')"
    social_src = f"({src_kind} = 'social' OR {_one_of(src, ('fb', 'ig', 'li', 'social'))})"
    display_med = _one_of(med, ('display', 'banner', 'expandable', 'interstitial', 'cpm'))
    email_src = _one_of(src, _EMAIL_SOURCES)
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
        WHEN {social_src} OR {_one_of(med, _SOCIAL_MEDIUMS)} THEN 'organic_social'
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

    rh, uh = "_c_ref", "_c_host"
    return f"""(CASE
        WHEN {context} IS NULL THEN NULL
        WHEN {type_col} NOT IN ('page', 'screen') AND {src} IS NULL AND {med} IS NULL
             AND {click} = '' THEN NULL
        WHEN {src} IS NOT NULL OR {med} IS NOT NULL THEN (CASE {with_utm} ELSE 'unassigned' END)
        WHEN {_one_of(click, _CLICK_PAID_SEARCH)} THEN 'paid_search'
        WHEN {_one_of(click, _CLICK_DISPLAY)} THEN 'display'
        WHEN {_one_of(click, _CLICK_PAID_SOCIAL)} THEN 'paid_social'
        WHEN _c_same THEN NULL
        WHEN {rh} = '' THEN (CASE WHEN {type_col} IN ('page', 'screen') THEN 'direct' ELSE NULL END)
        WHEN {rh} = {uh} THEN NULL
        WHEN length({uh}) > 0 AND (ends_with({rh}, '.' || {uh}) OR ends_with({uh}, '.' || {rh}))
             THEN NULL
        ELSE (CASE {_site_kind(rh)}
            WHEN 'email' THEN 'email' WHEN 'shopping' THEN 'organic_shopping'
            WHEN 'video' THEN 'organic_video' WHEN 'social' THEN 'organic_social'
            WHEN 'search' THEN 'organic_search' ELSE 'referral' END)
    END)"""
