"""Dashboard users, sessions, CSRF tokens and the login rate limit.

Users live in the workspace catalog in a table of their own (``web_users``), with
argon2id hashes (argon2-cffi). Sessions are signed cookies (itsdangerous) that carry
only the user name and a CSRF token; the user row is read on every request, so a
removed user or a changed role takes effect at once. Projects are a user's explicit
list: admins too see only the projects they were given.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from cxlens.errors import ValidationError
from cxlens.ingest.normalize import check_project
from cxlens.store.catalog import Catalog

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "admin")
SESSION_COOKIE = "cxlens_session"
CSRF_COOKIE = "cxlens_csrf"
SESSION_MAX_AGE = 12 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    projects TEXT NOT NULL,          -- JSON list of project names
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS web_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_hasher = PasswordHasher()
# verifying against this when the user does not exist keeps the answer time the same,
# so timing does not tell which user names exist
_DUMMY_HASH = _hasher.hash("not-a-password")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    projects: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def ensure_schema(catalog: Catalog) -> None:
    for stmt in _SCHEMA.split(";"):
        if stmt.strip():
            catalog.execute(stmt)


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise ValidationError(
            f"user name {name!r} must be 1-64 letters, digits or . _ - @", field="name")


def add_user(catalog: Catalog, name: str, password: str, role: str,
             projects: list[str]) -> User:
    """Create or replace a user (replacing is how a password or role is changed)."""
    ensure_schema(catalog)
    _check_name(name)
    if role not in ROLES:
        raise ValidationError(f"role must be viewer or admin, got {role!r}", field="role")
    if len(password) < 8:
        raise ValidationError("the password needs at least 8 characters", field="password")
    if not projects:
        raise ValidationError("give the user at least one --project", field="project")
    known = set(catalog.project_names())
    for p in projects:
        check_project(p)
        if p not in known:
            raise ValidationError(f"project {p!r} does not exist; known: {sorted(known)}",
                                  field="project")
    catalog.execute(
        "INSERT OR REPLACE INTO web_users (name, password_hash, role, projects, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (name, _hasher.hash(password), role, orjson.dumps(sorted(set(projects))).decode(),
         time.time()))
    return User(name, role, tuple(sorted(set(projects))))  # type: ignore[arg-type]


def remove_user(catalog: Catalog, name: str) -> bool:
    ensure_schema(catalog)
    return catalog.execute("DELETE FROM web_users WHERE name = ?", (name,)).rowcount > 0


def get_user(catalog: Catalog, name: str) -> User | None:
    ensure_schema(catalog)
    rows = catalog.execute("SELECT name, role, projects FROM web_users WHERE name = ?",
                           (name,)).fetchall()
    if not rows:
        return None
    n, role, projects = rows[0]
    return User(str(n), role, tuple(orjson.loads(projects)))


def list_users(catalog: Catalog) -> list[User]:
    ensure_schema(catalog)
    rows = catalog.execute("SELECT name, role, projects FROM web_users ORDER BY name").fetchall()
    return [User(str(n), r, tuple(orjson.loads(p))) for n, r, p in rows]


def authenticate(catalog: Catalog, name: str, password: str) -> User | None:
    ensure_schema(catalog)
    rows = catalog.execute("SELECT password_hash FROM web_users WHERE name = ?",
                           (name,)).fetchall()
    stored = str(rows[0][0]) if rows else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if not rows:
        return None
    if _hasher.check_needs_rehash(stored):
        catalog.execute("UPDATE web_users SET password_hash = ? WHERE name = ?",
                        (_hasher.hash(password), name))
    return get_user(catalog, name)


def secret_key(catalog: Catalog) -> str:
    """The workspace's cookie-signing key, made once and kept in the catalog so that
    several server processes (``--workers``) and restarts accept the same sessions."""
    ensure_schema(catalog)
    catalog.execute("INSERT OR IGNORE INTO web_settings (key, value) VALUES ('secret', ?)",
                    (secrets.token_urlsafe(48),))
    return str(catalog.execute("SELECT value FROM web_settings WHERE key = 'secret'")
               .fetchall()[0][0])


class Sessions:
    """Signed, timestamped session and CSRF cookies."""

    def __init__(self, key: str) -> None:
        self._session = URLSafeTimedSerializer(key, salt="cxlens-session")
        self._csrf = URLSafeTimedSerializer(key, salt="cxlens-csrf")

    def dump(self, user: str) -> str:
        return self._session.dumps({"u": user})

    def load(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            data = self._session.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        name = data.get("u") if isinstance(data, dict) else None
        return name if isinstance(name, str) else None

    def new_csrf(self) -> tuple[str, str]:
        """A (cookie value, form token) pair: the cookie is the signed token."""
        token = secrets.token_urlsafe(24)
        return self._csrf.dumps(token), token

    def csrf_of(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            token = self._csrf.loads(cookie, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    def csrf_ok(self, cookie: str | None, submitted: str | None) -> bool:
        """Double submit: the form's token must equal the one in the signed cookie."""
        token = self.csrf_of(cookie)
        return bool(token and submitted) and hmac.compare_digest(token or "", submitted or "")


class RateLimiter:
    """At most ``limit`` failed attempts per ``window`` seconds per key (user name + client
    IP); once there, every attempt is refused until the window has moved on, the right
    password included, so guessing gains nothing. Successful logins do not count, so a
    team behind one NAT address is not locked out by its own sign-ins.

    The failures are kept in the workspace catalog (``login_failures``), so the bound holds
    for the whole server, however many worker processes ``--workers`` starts; without a
    catalog path (tests of the rule itself) they are kept in memory."""

    def __init__(self, limit: int = 5, window: float = 60.0, catalog: Path | None = None) -> None:
        self.limit = limit
        self.window = window
        self.catalog = catalog
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        assert self.catalog is not None
        db = sqlite3.connect(self.catalog, timeout=10, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL)")
        db.execute("CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at)")
        return db

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._fails.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def allow(self, key: str, now: float | None = None) -> bool:
        """May ``key`` try now?"""
        now = time.time() if now is None else now
        if self.catalog is not None:
            db = self._db()
            try:
                n = db.execute("SELECT count(*) FROM login_failures WHERE key = ? AND at > ?",
                               (key, now - self.window)).fetchall()[0][0]
            finally:
                db.close()
            return int(n) < self.limit
        with self._lock:
            return len(self._recent(key, now)) < self.limit

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        if self.catalog is not None:
            db = self._db()
            try:
                db.execute("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))
                # forget old failures so the table stays small
                db.execute("DELETE FROM login_failures WHERE at <= ?", (now - self.window,))
            finally:
                db.close()
            return
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._fails) > 10_000:  # forget idle keys so memory stays bounded
                for k in [k for k, v in self._fails.items() if not v]:
                    del self._fails[k]


DEMO_USER = "demo"
DEMO_PASSWORD = "cxlens-demo"


def ensure_demo_user(catalog: Catalog, project: str) -> tuple[str, str]:
    """The demo's admin login (only ever made by ``cxlens demo`` in its own workspace)."""
    if get_user(catalog, DEMO_USER) is None:
        add_user(catalog, DEMO_USER, DEMO_PASSWORD, "admin", [project])
    return DEMO_USER, DEMO_PASSWORD
