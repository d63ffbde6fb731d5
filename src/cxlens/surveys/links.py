"""Personal survey links for e-mails: ``/s/<token>``, signed, bound to one person, one answer.

A token is ``base64url(json payload) . base64url(HMAC-SHA256)``. The payload names the
project, the survey, the person (``user_id``), the language, an expiry and a random
nonce. The key is derived from the project's secret (the SHA-256 of its secret key kept
in the catalog, with a fixed label), so only this workspace can make or check a link,
and ``cxlens project create`` for new keys invalidates old links. The nonce is claimed in
the catalog table ``survey_link_claims`` (no person id in it) when the answer is taken: a second answer with
the same link is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cxlens.errors import AuthError, ValidationError
from cxlens.store.catalog import Catalog

LABEL = b"cxlens survey link v1"
DEFAULT_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class LinkClaim:
    project: str
    survey_id: str
    user_id: str
    lang: str
    expires: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def project_key(catalog: Catalog, project: str) -> bytes:
    rows = catalog.execute("SELECT secret_key FROM projects WHERE name = ?", (project,)).fetchall()
    if not rows or not rows[0][0]:
        raise ValidationError(f"project {project!r} has no keys yet, and personal links are signed with "
                              f"its secret; create them with: cxlens project create {project}",
                              field="project")
    return hmac.new(str(rows[0][0]).encode(), LABEL, hashlib.sha256).digest()


def sign(key: bytes, claim: LinkClaim) -> str:
    payload = json.dumps({"p": claim.project, "s": claim.survey_id, "u": claim.user_id, "l": claim.lang,
                          "x": int(claim.expires), "n": claim.nonce}, separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def make_claim(project: str, survey_id: str, user_id: str, lang: str = "de",
               days: float = DEFAULT_DAYS, now: float | None = None) -> LinkClaim:
    if not user_id.strip():
        raise ValidationError("a personal link needs the person's user id (--user)", field="user")
    if lang not in ("de", "en"):
        raise ValidationError(f"lang {lang!r}: use de or en", field="lang")
    if not 0 < days <= 366:
        raise ValidationError("days must be between 0 and 366", field="days")
    return LinkClaim(project, survey_id, user_id.strip(), lang, (now or time.time()) + days * 86400,
                     secrets.token_urlsafe(12))


def read_unverified(token: str) -> LinkClaim:
    """The claim inside a token, before its signature is checked (to find the project)."""
    try:
        payload, _ = token.split(".", 1)
        d = json.loads(_unb64(payload))
        return LinkClaim(str(d["p"]), str(d["s"]), str(d["u"]), str(d["l"]), float(d["x"]), str(d["n"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthError("this survey link is damaged; open the link from the e-mail again",
                        field="token") from exc


def verify(key: bytes, token: str, now: float | None = None) -> LinkClaim:
    claim = read_unverified(token)
    payload, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
        expected = hmac.new(key, _unb64(payload), hashlib.sha256).digest()
    except ValueError as exc:
        raise AuthError("this survey link is damaged; open the link from the e-mail again",
                        field="token") from exc
    if not hmac.compare_digest(given, expected):
        raise AuthError("this survey link is not valid; open the link from the e-mail again", field="token")
    if (now or time.time()) > claim.expires:
        raise AuthError("this survey link has expired", field="token")
    return claim


# no person id in here: the catalog is outside what erasure rewrites, and the nonce is
# all it takes to refuse a second answer
_USED = """
CREATE TABLE IF NOT EXISTS survey_link_claims (
    project TEXT NOT NULL, nonce TEXT NOT NULL, survey_id TEXT NOT NULL, used_at REAL NOT NULL,
    PRIMARY KEY (project, nonce)
)
"""


def is_used(catalog: Catalog, claim: LinkClaim) -> bool:
    catalog.execute(_USED)
    rows = catalog.execute("SELECT 1 FROM survey_link_claims WHERE project = ? AND nonce = ?",
                           (claim.project, claim.nonce)).fetchall()
    return bool(rows)


def claim_once(catalog: Catalog, claim: LinkClaim) -> bool:
    """Mark the link used; False when it was used before (one answer per link)."""
    catalog.execute(_USED)
    cur = catalog.execute("INSERT OR IGNORE INTO survey_link_claims VALUES (?, ?, ?, ?)",
                          (claim.project, claim.nonce, claim.survey_id, time.time()))
    return cur.rowcount == 1
