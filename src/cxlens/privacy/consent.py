"""Consent per purpose, recorded as events, and the filter analyses use to honour it.

A ``Consent Updated`` event carries ``properties`` like ``{"analytics": "denied",
"marketing_email": "granted"}``. A person's state for a purpose is its latest such
value (with the time and source that set it). Persons whose current analytics consent
is ``denied`` are left out of analyses entirely: all their events, not only those
after the change, because an aggregate built from their earlier events would still
be processing for a purpose they refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final

import duckdb
import pyarrow as pa

from cxlens.identity.resolve import person_of, with_person
from cxlens.store.workspace import Workspace

CONSENT_EVENT: Final = "Consent Updated"
PURPOSES: Final = ("analytics", "personalisation", "marketing_email")


@dataclass(frozen=True, slots=True)
class PurposeState:
    purpose: str
    state: str  # granted | denied
    at: str
    source: str


@dataclass(frozen=True, slots=True)
class ConsentState:
    project: str
    person_id: str
    purposes: dict[str, PurposeState] = field(default_factory=dict)

    def allows(self, purpose: str) -> bool:
        """No recorded decision counts as allowed (the collector drops events sent without
        consent at the door; see ingest/privacy.py)."""
        st = self.purposes.get(purpose)
        return st is None or st.state != "denied"


# the latest decision per purpose; at equal times 'denied' wins (as on Spark), so a
# person who clicked both in the same microsecond is not analysed
_STATES = """
SELECT person_id, k AS purpose,
       arg_max(st, epoch_us(timestamp) * 2 + CAST(st = 'denied' AS BIGINT)) AS state,
       max(timestamp) AS at,
       arg_max(source, epoch_us(timestamp) * 2 + CAST(st = 'denied' AS BIGINT)) AS source
FROM (SELECT person_id, timestamp, source, k,
             lower(json_extract_string(properties, '$."' || k || '"')) AS st
      FROM (SELECT person_id, properties, timestamp, source, unnest(json_keys(properties)) AS k
            FROM {view} WHERE event = ? AND properties IS NOT NULL))
GROUP BY person_id, k
"""


def consent_state(ws: Workspace, project: str | None, person: str) -> ConsentState:
    """The consent of the person having ``person`` (any of its ids or its person_id)."""
    project = project or ws.default_project
    person_id, _ = person_of(ws, project, person)
    rel = with_person(ws, ws.events(project), project)
    view = f"_cs_{uuid.uuid4().hex[:8]}"
    rel.create_view(view, replace=True)
    try:
        rows = ws.con.execute(
            f"SELECT * FROM ({_STATES.format(view=view)}) WHERE person_id = ?", [CONSENT_EVENT, person_id]
        ).fetchall()
    finally:
        ws.con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
    return ConsentState(project, person_id, {
        r[1]: PurposeState(r[1], str(r[2]), r[3].isoformat(), r[4]) for r in rows if r[2] is not None
    })


def denied(ws: Workspace, project: str | None, purpose: str = "analytics") -> list[str]:
    """person_ids whose current consent for ``purpose`` is denied."""
    project = project or ws.default_project
    rel = with_person(ws, ws.events(project), project)
    view = f"_cd_{uuid.uuid4().hex[:8]}"
    rel.create_view(view, replace=True)
    try:
        rows = ws.con.execute(
            f"SELECT person_id FROM ({_STATES.format(view=view)}) WHERE purpose = ? AND state = 'denied'"
            " ORDER BY person_id", [CONSENT_EVENT, purpose]
        ).fetchall()
    finally:
        ws.con.execute(f"DROP VIEW IF EXISTS {view}").fetchall()
    return [r[0] for r in rows]


def honour_consent(ws: Workspace, rel: duckdb.DuckDBPyRelation, project: str | None = None,
                   purpose: str = "analytics") -> duckdb.DuckDBPyRelation:
    """``rel`` (events, with or without ``person_id``) without the events of persons who
    denied ``purpose``. Analyses call this on the events relation before anything else."""
    project = project or ws.default_project
    if "person_id" not in rel.columns:
        rel = with_person(ws, rel, project)
    gone = denied(ws, project, purpose)
    if not gone:
        return rel
    excluded = ws.con.from_arrow(pa.table({"person_id": pa.array(gone, pa.string())}))
    return rel.join(excluded, "person_id", how="anti")
