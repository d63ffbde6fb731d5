"""Privacy at the door: what the collector does to personal data before it is stored.

Applied per message while it is normalised, so nothing personal that a project or a
visitor declined ever reaches the write-ahead log or a Parquet file.

* IP addresses are anonymised by default: the last octet of an IPv4 address and the
  last 80 bits of an IPv6 address are zeroed (Matomo's "2 bytes" / Google's practice).
* A message whose ``context.consent.analytics`` is ``false`` (or a request with
  ``DNT: 1`` to a project that honours it) keeps only what an aggregate count needs:
  ids, IP, user agent, traits, device, click ids, session and query strings are
  removed, in the context and in the properties (page URLs, device ids); at any depth,
  a value under a key that names a personal field (``is_personal_key``) and any string
  holding an e-mail address are removed too. Identify, alias and group messages, which
  are nothing but personal data, are dropped entirely.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True, slots=True)
class PrivacySettings:
    """A project's privacy settings (``projects.settings["privacy"]`` in the catalog)."""

    #: zero the host part of IP addresses (IPv4 /24, IPv6 /48)
    anonymize_ip: bool = True
    #: store no IP address at all
    drop_ip: bool = False
    #: treat ``DNT: 1`` like a denied consent
    honor_dnt: bool = False

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> PrivacySettings:
        raw = settings.get("privacy") if isinstance(settings, dict) else None
        if not isinstance(raw, dict):
            return cls()
        return cls(
            anonymize_ip=bool(raw.get("anonymize_ip", True)),
            drop_ip=bool(raw.get("drop_ip", False)),
            honor_dnt=bool(raw.get("honor_dnt", False)),
        )


DEFAULT_PRIVACY: Final = PrivacySettings()

#: context keys that identify a person or a device; removed without consent
PERSONAL_CONTEXT_KEYS: Final = (
    "ip", "user_agent", "userAgent", "traits", "device", "click_ids", "network",
    "externalIds", "userAgentData", "screen", "instance_id", "ga_client_id",
)


@lru_cache(maxsize=8192)  # a batch comes from one address; parsing costs more than the rest
def anonymize_ip(value: str) -> str | None:
    """Zero the last octet (IPv4) or the last 80 bits (IPv6); None if not an address."""
    try:
        addr = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(addr) & 0xFFFFFF00))
    mapped = addr.ipv4_mapped
    if mapped is not None:
        return str(ipaddress.IPv4Address(int(mapped) & 0xFFFFFF00))
    return str(ipaddress.IPv6Address(int(addr) & ~((1 << 80) - 1)))


def apply_ip(context: dict[str, Any], client_ip: str | None, settings: PrivacySettings) -> None:
    """Set ``context.ip`` from the message or the request, anonymised as configured."""
    ip = context.get("ip")
    if not isinstance(ip, str) or not ip:
        ip = client_ip
    if settings.drop_ip or not ip:
        context.pop("ip", None)
        return
    if settings.anonymize_ip:
        masked = anonymize_ip(ip)
        if masked is None:
            context.pop("ip", None)
        else:
            context["ip"] = masked
    else:
        context["ip"] = ip


def consent_denied(context: dict[str, Any]) -> bool:
    consent = context.get("consent")
    return isinstance(consent, dict) and consent.get("analytics") is False


def _strip_query(url: Any, keep_path: bool = True) -> Any:
    if not isinstance(url, str):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path if keep_path else "", "", ""))


#: property keys that identify a person or a device (posthog-js sets them on every event)
PERSONAL_PROPERTY_KEYS: Final = (
    "$device_id", "$anon_distinct_id", "$user_id", "$window_id", "$initial_person_info",
    "$ip", "$raw_user_agent", "$useragent", "$set", "$set_once", "$session_id",
)
#: property keys that hold a URL (its query string can hold an e-mail or an order number)
_URL_PROPERTIES: Final = ("url", "$current_url", "$initial_current_url")
_REFERRER_PROPERTIES: Final = ("referrer", "$referrer", "$initial_referrer")
_QUERY_PROPERTIES: Final = ("search",)


#: Key names of personal fields, compared after ``_key_stem`` (lower case, letters and
#: digits only, so ``$email``, ``E-Mail``, ``first_name`` and ``firstName`` all match).
#: Short or ambiguous words match only as the whole key: ``ip`` would otherwise catch
#: ``membership`` or ``tooltip``, ``mobile`` the device flag ``is_mobile``.
_PERSONAL_KEYS_EXACT: Final = frozenset({
    "ip", "ipaddress", "clientip", "mail", "tel", "mobile", "dob", "zip",
})
#: Longer words also match as the end of a key (``customer_email``, ``billing_address``,
#: ``contactPhone``). A bare ``name`` is not personal: it is a page's, a product's or a
#: campaign's name in the Segment and GA4 specs, which aggregate reports need; nor is
#: ``city`` or ``country``, the coarse geography that location reports count.
_PERSONAL_KEY_SUFFIXES: Final = (
    "email", "phone", "phonenumber", "telephone", "mobilenumber", "mobilephone",
    "firstname", "lastname", "fullname", "givenname", "familyname", "middlename",
    "surname", "username", "address", "street", "zipcode", "postalcode", "postcode",
    "birthday", "birthdate", "dateofbirth", "iban",
)
_NON_ALNUM: Final = re.compile(r"[^0-9a-z]+")
#: an e-mail address, also with its @ percent-encoded as in a URL path
EMAIL_RE: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}",
                             re.IGNORECASE)


@lru_cache(maxsize=4096)  # the same few property names come again and again
def is_personal_key(key: str) -> bool:
    """Whether a property or context key names a personal field (e-mail, phone, a
    person's name, postal address, birthday, IP address, IBAN)."""
    stem = _NON_ALNUM.sub("", key.lower())
    return stem in _PERSONAL_KEYS_EXACT or stem.endswith(_PERSONAL_KEY_SUFFIXES)


_DROP: Final = object()


def _scrub_value(value: Any) -> Any:
    """The value without personal keys and e-mail addresses at any depth; ``_DROP`` if
    it is itself a string holding an e-mail address."""
    if isinstance(value, str):
        return _DROP if EMAIL_RE.search(value) else value
    if isinstance(value, dict):
        return _scrub_mapping(value)
    if isinstance(value, list):
        return [v for v in map(_scrub_value, value) if v is not _DROP]
    return value


def _scrub_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(key, str) and is_personal_key(key):
            continue
        clean = _scrub_value(value)
        if clean is not _DROP:
            out[key] = clean
    return out


def scrub_properties(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties without what identifies a person (no consent): page views repeat
    the URL, search and referrer in their properties (analytics.js, cx.js), posthog-js
    its device and anonymous ids, and any event may carry an e-mail, phone number or
    name (``{"email": ...}`` on a "Signed Up"). Other properties (products, amounts,
    campaign data) stay."""
    if not properties:
        return properties
    out = {k: v for k, v in properties.items()
           if k not in PERSONAL_PROPERTY_KEYS and k not in _QUERY_PROPERTIES}
    for key in _URL_PROPERTIES:
        if key in out:
            out[key] = _strip_query(out[key])
    for key in _REFERRER_PROPERTIES:
        if key in out:
            out[key] = _strip_query(out[key], keep_path=False)
    return _scrub_mapping(out)


def scrub_context(context: dict[str, Any]) -> None:
    """Remove everything personal from a context in place (no consent)."""
    for key in PERSONAL_CONTEXT_KEYS:
        context.pop(key, None)
    page = context.get("page")
    if isinstance(page, dict):
        page = dict(page)
        page.pop("search", None)
        if "url" in page:
            page["url"] = _strip_query(page["url"])
        if "referrer" in page:
            page["referrer"] = _strip_query(page["referrer"], keep_path=False)
        context["page"] = page
    # what is left (page, campaign, library, custom keys) may still name a person
    clean = _scrub_mapping(context)
    context.clear()
    context.update(clean)
