"""Profiles page: find a person, show their timeline across channels, the identity
explanation (from ``cxlens.identity`` when identities are resolved) and consent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson

from cxlens.errors import CxError
from cxlens.identity.profiles import Account, account
from cxlens.store.workspace import Workspace

CONSENT_EVENT = "Consent Updated"


@dataclass(frozen=True, slots=True)
class Match:
    person: str
    events: int
    first: datetime
    last: datetime
    label: str = ""  # what people recognise: a user id, else the person key


@dataclass(frozen=True, slots=True)
class PersonView:
    person: str
    ids: list[tuple[str, str]]  # (type, id)
    timeline: list[tuple[datetime, str, str, str, float | None]]  # time, event, channel, source, revenue
    consent: dict[str, tuple[str, datetime]]  # purpose -> (state, since)
    explanation: list[dict[str, Any]] = field(default_factory=list)
    explained: bool = False
    accounts: list[str] = field(default_factory=list)


def search(con: duckdb.DuckDBPyConnection, text: str, limit: int = 25) -> list[Match]:
    """Persons whose user id, anonymous id or e-mail (identify traits) contains ``text``."""
    needle = text.strip()
    if not needle:
        return []
    rows = con.execute("""
        SELECT person, count(*), min(timestamp), max(timestamp), coalesce(min(user_id), person)
        FROM pev_all
        WHERE person IN (
            SELECT person FROM pev_all
            WHERE contains(lower(person), lower($q)) OR contains(lower(user_id), lower($q))
                OR contains(lower(anonymous_id), lower($q))
               OR (type = 'identify' AND contains(lower(context), lower($q)))
            LIMIT 1000)
        GROUP BY person ORDER BY count(*) DESC, person LIMIT $limit
    """, {"q": needle, "limit": limit}).fetchall()
    return [Match(str(p), int(n), a, b, str(lab)) for p, n, a, b, lab in rows]


def _page_person(ws: Workspace, con: duckdb.DuckDBPyConnection, project: str,
                 value: str) -> str | None:
    """This page's person key for ``value``: the key itself, any user or anonymous id, or
    a person id of ``cxlens.identity`` (``~<id>`` when unresolved, else resolved)."""
    candidates = [value, value.removeprefix("~")]
    try:
        from cxlens.identity.resolve import person_of

        candidates += [i["id"] for i in person_of(ws, project, value)[1]
                       if i["id_type"] in ("user_id", "anonymous_id")]
    except CxError:
        pass
    rows = con.execute("""
        SELECT person FROM pev_all WHERE list_contains($ids, person) OR list_contains($ids, user_id)
            OR list_contains($ids, anonymous_id) LIMIT 1
    """, {"ids": candidates}).fetchall()
    return str(rows[0][0]) if rows else None


def person_view(ws: Workspace, con: duckdb.DuckDBPyConnection, project: str,
                value: str) -> PersonView | None:
    person = _page_person(ws, con, project, value)
    if person is None:
        return None
    ids = con.execute("""
        SELECT DISTINCT 'user_id', user_id FROM pev_all WHERE person = $p AND user_id IS NOT NULL
        UNION SELECT DISTINCT 'anonymous_id', anonymous_id FROM pev_all
              WHERE person = $p AND anonymous_id IS NOT NULL
        UNION SELECT DISTINCT 'account_id', account_id FROM pev_all
              WHERE person = $p AND account_id IS NOT NULL
        ORDER BY 1, 2
    """, {"p": person}).fetchall()
    if not ids:
        return None
    timeline = con.execute("""
        SELECT timestamp, coalesce(event, type || ' ' ||
                   coalesce(json_extract_string(context, '$.page.path'), '')),
               coalesce(last_value(channel IGNORE NULLS) OVER (ORDER BY timestamp
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 'direct'),
               source, revenue
        FROM pev_all WHERE person = $p ORDER BY timestamp LIMIT 1000
    """, {"p": person}).fetchall()
    consent: dict[str, tuple[str, datetime]] = {}
    for ts, props in con.execute(
            "SELECT timestamp, properties FROM pev_all WHERE person = $p AND event = $e "
            "ORDER BY timestamp", {"p": person, "e": CONSENT_EVENT}).fetchall():
        try:
            doc = orjson.loads(props or "{}")
        except orjson.JSONDecodeError:
            continue
        for purpose, state in doc.items():
            if state in ("granted", "denied"):
                consent[str(purpose)] = (str(state), ts)
    view = PersonView(person, [(str(a), str(b)) for a, b in ids],
                      [(a, str(b), str(c), str(d), e) for a, b, c, d, e in timeline], consent,
                      accounts=sorted({b for a, b in ids if a == "account_id"}))
    try:  # identity explanation, once the identity module has resolved this project
        from cxlens.identity.resolve import explain

        ex = explain(ws, project, person)
        view.explanation.extend({
            "a": f"{r.id_type_a}:{r.id_a}", "b": f"{r.id_type_b}:{r.id_b}",
            "source": r.link_source, "at": r.linked_at, "flagged": r.flagged,
            "removed": r.removed} for r in ex.links)
        return PersonView(view.person, view.ids, view.timeline, view.consent,
                          view.explanation, True, view.accounts)
    except (CxError, ImportError):
        return view


def search_accounts(con: duckdb.DuckDBPyConnection, text: str, limit: int = 10
                    ) -> list[tuple[str, int]]:
    """B2B accounts whose id contains ``text``, with their number of persons."""
    needle = text.strip()
    if not needle:
        return []
    rows = con.execute("""
        SELECT account_id, count(DISTINCT person) FROM pev_all
        WHERE account_id IS NOT NULL AND contains(lower(account_id), lower($q))
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $limit
    """, {"q": needle, "limit": limit}).fetchall()
    return [(str(a), int(n)) for a, n in rows]


def account_view(ws: Workspace, project: str, account_id: str) -> Account | None:
    """The account's firmographics, members and buying centre (``cxlens.identity``), or
    None when the project has no such account."""
    try:
        acc = account(ws, project, account_id)
    except CxError:
        return None
    return acc if (acc.members or acc.name) else None
