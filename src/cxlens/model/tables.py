"""Definitions of the tables beside ``events``.

Their behaviour (identity resolution, profile merging, feedback analysis) comes in
later modules; the shapes are fixed here so that every module and importer agrees.
They are stored as Parquet under ``<workspace>/tables/<name>/`` with the same atomic
write rules as events.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from cxlens.model.events import TS

IDENTITIES_SCHEMA: Final = pa.schema(
    [
        pa.field("project", pa.string(), nullable=False),
        pa.field("id_type_a", pa.string(), nullable=False),  # anonymous_id, user_id, email, ...
        pa.field("id_a", pa.string(), nullable=False),
        pa.field("id_type_b", pa.string(), nullable=False),
        pa.field("id_b", pa.string(), nullable=False),
        pa.field("link_source", pa.string(), nullable=False),  # identify, alias, import:crm, ...
        pa.field("event_id", pa.string()),  # the event that established the link, if any
        pa.field("linked_at", TS, nullable=False),
        pa.field("flagged", pa.bool_(), nullable=False),  # over a cap: kept but not merged
        pa.field("removed", pa.bool_(), nullable=False),  # undone by ``profile unlink``
    ]
)

PROFILES_SCHEMA: Final = pa.schema(
    [
        pa.field("project", pa.string(), nullable=False),
        pa.field("person_id", pa.string(), nullable=False),
        pa.field("trait", pa.string(), nullable=False),
        pa.field("value", pa.string()),  # JSON value as text
        pa.field("trait_source", pa.string(), nullable=False),
        pa.field("observed_at", TS, nullable=False),
        pa.field("computed", pa.bool_(), nullable=False),
    ]
)

ACCOUNTS_SCHEMA: Final = pa.schema(
    [
        pa.field("project", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("industry", pa.string()),
        pa.field("size", pa.string()),  # employee band, e.g. "50-249"
        pa.field("country", pa.string()),
        pa.field("traits", pa.string()),  # JSON object as text
        pa.field("updated_at", TS, nullable=False),
    ]
)

FEEDBACK_SCHEMA: Final = pa.schema(
    [
        pa.field("project", pa.string(), nullable=False),
        pa.field("feedback_id", pa.string(), nullable=False),
        pa.field("timestamp", TS, nullable=False),
        pa.field("anonymous_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("kind", pa.string(), nullable=False),  # nps, csat, ces, review, ticket, complaint, custom
        pa.field("score", pa.float64()),
        pa.field("scale_max", pa.float64()),
        pa.field("text", pa.string()),
        pa.field("language", pa.string()),
        pa.field("touchpoint", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("properties", pa.string()),
    ]
)

TABLES: Final = {
    "identities": IDENTITIES_SCHEMA,
    "profiles": PROFILES_SCHEMA,
    "accounts": ACCOUNTS_SCHEMA,
    "feedback": FEEDBACK_SCHEMA,
}
