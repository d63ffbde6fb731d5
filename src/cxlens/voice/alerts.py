"""Alerts: a detractor, or a run of negative texts at one touchpoint, is POSTed as JSON to
the webhook named in ``cxlens.toml`` (``[alerts] webhook = "https://…"``).

Rules are deliberately simple and explainable to a CX manager: every NPS detractor
(0-6) and every 1-2 star answer with a text is one alert item; ``run`` (default 3)
negative texts in a row at the same touchpoint, in time order, make a "negative run"
item with all their texts.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from cxlens.errors import ConfigError

RUN: Final = 3


@dataclass(frozen=True, slots=True)
class Alert:
    reason: str  # detractor | negative_run
    touchpoint: str
    feedback_ids: tuple[str, ...]
    texts: tuple[str, ...]
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Item:
    feedback_id: str
    timestamp: str
    touchpoint: str
    kind: str
    score: float | None
    scale_max: float | None
    text: str | None
    label: str | None


def find_alerts(items: Sequence[Item], run: int = RUN) -> list[Alert]:
    alerts: list[Alert] = []
    for it in items:
        s = it.score
        if s is None or s != s:
            continue
        low = (it.kind == "nps" and s <= 6) or (it.kind != "nps" and it.kind != "ces"
                                                and (it.scale_max or 5) == 5 and s <= 2)
        if low:
            alerts.append(Alert("detractor", it.touchpoint, (it.feedback_id,),
                                (it.text,) if it.text else (), s))
    streak: dict[str, list[Item]] = {}
    for it in sorted(items, key=lambda x: x.timestamp):
        if it.text is None or it.label is None:
            continue
        cur = streak.setdefault(it.touchpoint, [])
        if it.label == "negative":
            cur.append(it)
            if len(cur) == run:
                alerts.append(Alert("negative_run", it.touchpoint, tuple(x.feedback_id for x in cur),
                                    tuple(x.text or "" for x in cur)))
                cur.clear()
        else:
            cur.clear()
    return alerts


def post(webhook: str, project: str, alerts: Sequence[Alert], timeout: float = 5.0) -> int:
    """POST one JSON document with all alerts; returns the HTTP status."""
    if not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"[alerts] webhook {webhook!r} is not an http(s) URL; fix cxlens.toml")
    body = json.dumps({"project": project, "alerts": [a.to_dict() for a in alerts]},
                      ensure_ascii=False).encode()
    req = urllib.request.Request(webhook, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "cxlens"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # the scheme was checked above
            return int(resp.status)
    except OSError as exc:
        raise ConfigError(f"alert webhook {webhook} did not answer: {exc}; check [alerts] webhook") from exc
