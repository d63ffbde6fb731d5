"""Project keys: a write key that can only ingest, a secret key that can read.

Both live in the catalog's ``projects`` table. The write key is stored as is: it is
public by design (it sits in every page that loads cx.js and in every SDK config) and
``cxlens project list`` must be able to show it again. The secret key grants read
access to the data, so only its SHA-256 is stored; it is shown once, at creation.
A 256-bit random key needs no slow password hash: nobody can brute-force it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from cxlens.errors import ValidationError
from cxlens.ingest.normalize import check_project
from cxlens.store.catalog import Catalog

WRITE_PREFIX = "cxw_"
SECRET_PREFIX = "cxs_"


@dataclass(frozen=True, slots=True)
class ProjectInfo:
    project: str
    write_key: str | None
    created_at: float
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewKeys:
    project: str
    write_key: str
    secret_key: str


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_project(catalog: Catalog, name: str, settings: dict[str, Any] | None = None) -> NewKeys:
    """Create a project with fresh keys (or give keys to a project that has none)."""
    check_project(name)
    check_settings(settings or {})
    row = catalog.execute("SELECT write_key FROM projects WHERE name = ?", (name,)).fetchone()
    if row is not None and row[0]:
        raise ValidationError(
            f"project {name!r} already exists with keys; see them with: cxlens project list",
            field="project",
        )
    write_key = WRITE_PREFIX + secrets.token_urlsafe(24)
    secret_key = SECRET_PREFIX + secrets.token_urlsafe(32)
    settings_json = orjson.dumps(settings or {}).decode()
    with catalog.transaction() as db:
        db.execute(
            "INSERT INTO projects (name, created_at, settings) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO NOTHING",
            (name, time.time(), settings_json),
        )
        db.execute(
            "UPDATE projects SET write_key = ?, secret_key = ? WHERE name = ?",
            (write_key, hash_secret(secret_key), name),
        )
        if settings is not None:
            db.execute("UPDATE projects SET settings = ? WHERE name = ?", (settings_json, name))
    return NewKeys(name, write_key, secret_key)


def _settings(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def list_projects(catalog: Catalog) -> list[ProjectInfo]:
    rows = catalog.execute(
        "SELECT name, write_key, created_at, settings FROM projects ORDER BY name"
    ).fetchall()
    return [ProjectInfo(r[0], r[1], float(r[2]), _settings(r[3])) for r in rows]


def write_keys(catalog: Catalog) -> dict[str, ProjectInfo]:
    """All write keys -> project, for the collector's in-memory lookup."""
    return {p.write_key: p for p in list_projects(catalog) if p.write_key}


def project_for_secret(catalog: Catalog, key: str) -> str | None:
    row = catalog.execute(
        "SELECT name FROM projects WHERE secret_key = ?", (hash_secret(key),)
    ).fetchone()
    return str(row[0]) if row else None


#: the keys of ``settings["privacy"]`` and what each must be
PRIVACY_KEYS: dict[str, str] = {
    "anonymize_ip": "bool", "drop_ip": "bool", "honor_dnt": "bool", "pseudonymise": "bool",
    "pseudonym_secret": "text", "retention_days": "days",
}


def check_settings(settings: dict[str, Any]) -> None:
    """Refuse what would be silently ignored or misread: a misspelt key turns nothing on,
    and ``"false"`` as text is true to Python."""
    for key in settings:
        if key != "privacy":
            raise ValidationError(f"unknown setting {key!r}; the settings have one table: privacy",
                                  field=str(key))
    privacy = settings.get("privacy", {})
    if not isinstance(privacy, dict):
        raise ValidationError("settings.privacy must be an object, e.g. {\"honor_dnt\": true}",
                              field="privacy")
    for key, value in privacy.items():
        kind = PRIVACY_KEYS.get(key)
        if kind is None:
            raise ValidationError(f"unknown setting privacy.{key}; use {', '.join(PRIVACY_KEYS)}",
                                  field=f"privacy.{key}")
        if kind == "bool" and not isinstance(value, bool):
            raise ValidationError(f"privacy.{key} must be true or false (JSON, no quotes), not {value!r}",
                                  field=f"privacy.{key}")
        if kind == "text" and not isinstance(value, str):
            raise ValidationError(f"privacy.{key} must be text, not {value!r}", field=f"privacy.{key}")
        if kind == "days" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError(f"privacy.{key} must be a whole number of days of at least 1, not {value!r}",
                                  field=f"privacy.{key}")


def set_settings(catalog: Catalog, name: str, settings: dict[str, Any]) -> None:
    check_project(name)
    check_settings(settings)
    cur = catalog.execute(
        "UPDATE projects SET settings = ? WHERE name = ?", (orjson.dumps(settings).decode(), name)
    )
    if cur.rowcount == 0:
        raise ValidationError(f"no project {name!r}; create it with: cxlens project create {name}",
                              field="project")
