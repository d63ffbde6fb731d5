"""PostHog capture events -> Segment-spec messages -> canonical event rows.

A PostHog event is translated into the Segment message it means and then goes
through the same normaliser as ``/v1/*`` traffic (cxlens.ingest.segment), so both
land in the same columns.

* ``uuid`` -> ``event_id``; ``event`` -> ``event`` for ordinary events
* ``$pageview`` -> page (name: ``title``), ``$screen`` -> screen (``$screen_name``)
* ``$identify`` and ``$set`` -> identify with traits ``$set_once`` + ``$set``
* ``$create_alias`` -> alias: ``properties.alias`` -> user_id, ``distinct_id``
  (the previous id) -> anonymous_id
* ``$groupidentify`` -> group: ``$group_key`` -> account_id, ``$group_set`` -> properties
* ``distinct_id``: anonymous when ``$process_person_profile`` is false, when
  ``$is_identified`` is false or when it equals ``$device_id`` (posthog-js before
  identify); otherwise it is the user_id, and ``$anon_distinct_id`` or ``$device_id``
  becomes the anonymous_id.
* ``$current_url``/``$pathname``/``$referrer``/``title`` -> ``context.page``;
  ``utm_*`` -> ``context.campaign``; click ids -> ``context.click_ids``;
  ``$session_id`` (v1: top-level ``session_id``) -> session_id; ``$ip``,
  ``$raw_user_agent``, ``$os``, ``$device_type``, ``$browser``, ``$lib`` -> context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from cxlens.ingest.privacy import DEFAULT_PRIVACY, PrivacySettings
from cxlens.ingest.segment import (
    CAMPAIGN_PARAMS,
    CLICK_ID_PARAMS,
    DEFAULT_LIMITS,
    DEFAULT_REQUEST,
    Arrival,
    Bad,
    Limits,
    MessageError,
    RequestInfo,
    Row,
    _obj,
    _text,
    arrival_row,
)

_CONTEXT_PROPS: Final = {
    "$browser": ("browser", "name"), "$browser_version": ("browser", "version"),
    "$os": ("os", "name"), "$os_version": ("os", "version"),
    "$device_type": ("device", "type"), "$device_manufacturer": ("device", "manufacturer"),
    "$device_model": ("device", "model"), "$lib": ("library", "name"),
    "$lib_version": ("library", "version"), "$screen_height": ("screen", "height"),
    "$screen_width": ("screen", "width"),
}
_PAGE_PROPS: Final = {"$current_url": "url", "$pathname": "path", "$referrer": "referrer",
                      "title": "title", "$title": "title"}


def posthog_message(ev: Any, sdk_info: str | None = None) -> dict[str, Any]:
    """Translate one PostHog event to a Segment-spec message (raises Bad)."""
    if not isinstance(ev, dict):
        raise Bad("", "must be an object")
    name = _text(ev.get("event"), "event", required=True)
    props = dict(_obj(ev.get("properties"), "properties"))
    distinct = _text(ev.get("distinct_id", props.get("distinct_id")), "distinct_id", required=True)
    props.pop("distinct_id", None)
    props.pop("token", None)
    ctx: dict[str, Any] = {}
    for key, (obj, attr) in _CONTEXT_PROPS.items():
        if key in props:
            ctx.setdefault(obj, {})[attr] = props.pop(key)
    if sdk_info and "library" not in ctx:
        lib, _, version = sdk_info.partition("/")
        ctx["library"] = {"name": lib, "version": version}
    page: dict[str, Any] = {}
    for key, attr in _PAGE_PROPS.items():
        value = props.get(key)
        if isinstance(value, str) and attr not in page:
            if key != "title":
                props.pop(key)
            if attr == "referrer" and value == "$direct":
                continue
            page[attr] = value
    if page:
        ctx["page"] = page
    campaign = {CAMPAIGN_PARAMS[k]: props.pop(k) for k in list(props) if k in CAMPAIGN_PARAMS}
    if campaign:
        ctx["campaign"] = campaign
    clicks = {k: props.pop(k) for k in list(props) if k in CLICK_ID_PARAMS}
    if clicks:
        ctx["click_ids"] = clicks
    session = ev.get("session_id") or props.pop("$session_id", None)
    if session is not None:
        ctx["sessionId"] = session
    for key, target in (("$ip", "ip"), ("$raw_user_agent", "userAgent"),
                        ("$useragent", "userAgent"), ("$browser_language", "locale")):
        if key in props:
            ctx.setdefault(target, props.pop(key))
    consent = props.pop("$cx_consent", None)
    if isinstance(consent, dict):
        ctx["consent"] = consent
    groups = props.get("$groups")
    if isinstance(groups, dict) and groups:
        ctx["groupId"] = next(iter(groups.values()))

    raw_options = ev.get("options")
    options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
    device = props.get("$device_id")
    anonymous = (
        props.pop("$process_person_profile", None) is False
        or options.get("process_person_profile") is False
        or props.get("$is_identified") is False
        or (device is not None and device == distinct)
    )
    traits = {**_obj(ev.get("$set_once", props.pop("$set_once", None)), "$set_once"),
              **_obj(ev.get("$set", props.pop("$set", None)), "$set")}
    msg: dict[str, Any] = {
        "messageId": ev.get("uuid"), "timestamp": ev.get("timestamp"), "context": ctx,
    }
    if ev.get("sent_at") is not None:
        msg["sentAt"] = ev.get("sent_at")
    if anonymous:
        msg["anonymousId"] = distinct
    else:
        msg["userId"] = distinct
        anon = props.get("$anon_distinct_id") or device
        if anon is not None and anon != distinct:
            msg["anonymousId"] = anon

    if name == "$pageview":
        msg.update(type="page", name=props.get("title"), properties=props)
    elif name == "$screen":
        msg.update(type="screen", name=props.pop("$screen_name", None), properties=props)
    elif name in ("$identify", "$set"):
        msg.update(type="identify", traits=traits, properties=props)
        if not anonymous:
            msg.pop("anonymousId", None)
            anon = props.get("$anon_distinct_id")
            if anon is not None:
                msg["anonymousId"] = anon
    elif name == "$create_alias":
        alias = _text(props.pop("alias", None), "properties.alias", required=True)
        msg.update(type="alias", userId=alias, previousId=distinct, properties=props)
        msg.pop("anonymousId", None)
    elif name == "$groupidentify":
        msg.update(type="group", groupId=props.pop("$group_key", None),
                   traits=_obj(props.pop("$group_set", None), "properties.$group_set"),
                   properties=props)
        if msg["groupId"] is None:
            raise Bad("properties.$group_key", "is required for $groupidentify")
    else:
        if traits:
            ctx["traits"] = traits
        msg.update(type="track", event=name, properties=props)
    return msg


def normalize_posthog(
    events: Iterable[Any],
    *,
    sent_at: datetime | None,
    received_at: datetime,
    limits: Limits = DEFAULT_LIMITS,
    privacy: PrivacySettings = DEFAULT_PRIVACY,
    request: RequestInfo = DEFAULT_REQUEST,
    sdk_info: str | None = None,
) -> tuple[list[Row], list[MessageError], int, list[int]]:
    """Rows, errors, consent-dropped count, and the batch index of each row."""
    rows: list[Row] = []
    errors: list[MessageError] = []
    indexes: list[int] = []
    dropped = 0
    arrival = Arrival.of(sent_at=sent_at, received_at=received_at, limits=limits,
                         privacy=privacy, request=request)
    for index, ev in enumerate(events):
        try:
            row = arrival_row(posthog_message(ev, sdk_info), arrival)
        except Bad as exc:
            errors.append(MessageError(index, exc.field, exc.reason))
            continue
        if row is None:
            dropped += 1
        else:
            rows.append(row)
            indexes.append(index)
    return rows, errors, dropped, indexes
