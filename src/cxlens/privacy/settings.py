"""A project's privacy settings, from cxlens.toml and the catalog.

``[privacy]`` in cxlens.toml applies to every project, ``[projects.<name>.privacy]``
overrides it for one, and the catalog's project settings (``cxlens project settings``,
key ``privacy``) override both. Keys: ``retention_days`` (int), ``pseudonymise`` (bool),
``pseudonym_secret`` (text; never commit it to a repository).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from cxlens.errors import ConfigError
from cxlens.store.workspace import Workspace


def privacy_settings(ws: Workspace, project: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    base = ws.config.get("privacy", {})
    if isinstance(base, dict):
        merged.update(base)
    per = ws.config.get("projects", {})
    if isinstance(per, dict) and isinstance(per.get(project), dict):
        merged.update(per[project].get("privacy", {}) or {})
    rows = ws.catalog.execute("SELECT settings FROM projects WHERE name = ?", (project,)).fetchall()
    if rows and rows[0][0]:
        try:
            stored = orjson.loads(rows[0][0])
        except orjson.JSONDecodeError:
            stored = {}
        if isinstance(stored, dict) and isinstance(stored.get("privacy"), dict):
            merged.update(stored["privacy"])
    return merged


def pseudonymise(project_settings: Mapping[str, Any], value: str | None) -> str | None:
    """The value as stored: unchanged, or ``ps_`` + HMAC-SHA256 under the project's secret
    when ``privacy.pseudonymise`` is on. Deterministic, so the same e-mail or user id
    still joins a person's events; irreversible without the secret.

    ``project_settings`` is the project's settings mapping (with a ``privacy`` table) or
    the privacy table itself, as ``privacy_settings`` returns it.
    """
    if value is None:
        return None
    raw = project_settings.get("privacy", project_settings)
    privacy = raw if isinstance(raw, Mapping) else {}
    if not privacy.get("pseudonymise"):
        return value
    secret = privacy.get("pseudonym_secret")
    if not isinstance(secret, str) or len(secret) < 16:
        raise ConfigError(
            "privacy.pseudonymise is on but privacy.pseudonym_secret is missing or shorter than 16 "
            "characters; set one, e.g.: cxlens project settings <project> "
            "'{\"privacy\": {\"pseudonymise\": true, \"pseudonym_secret\": \"<random text>\"}}'"
        )
    normalised = value.strip().lower() if "@" in value else value.strip()
    digest = hmac.new(secret.encode(), normalised.encode(), hashlib.sha256).hexdigest()
    return "ps_" + digest
