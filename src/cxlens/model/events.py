"""The canonical event: one row per thing a person did or that happened to them.

The Arrow schema here is the single source of truth for the ``events`` table: the
Parquet files, DuckDB views, the Spark reader and the docs (docs/data-model.md) all
follow it. ``project`` and ``date`` are Hive partition columns: they live in the
directory names (``project=shop/date=2024-05-01``), not inside the files, which is
what both DuckDB and Spark expect of a Hive-partitioned dataset.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import pyarrow as pa


class EventType(StrEnum):
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    IDENTIFY = "identify"
    GROUP = "group"
    ALIAS = "alias"


EVENT_TYPES: Final = frozenset(t.value for t in EventType)

TS = pa.timestamp("us", tz="UTC")

#: Columns stored inside each Parquet file, in this order.
FILE_SCHEMA: Final = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("timestamp", TS, nullable=False),
        pa.field("received_at", TS, nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("event", pa.string()),
        pa.field("anonymous_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("channel", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("session_id", pa.string()),
        pa.field("properties", pa.string()),  # JSON object as text
        pa.field("context", pa.string()),  # JSON object as text
        pa.field("revenue", pa.float64()),
        pa.field("currency", pa.string()),
    ]
)

PARTITION_COLUMNS: Final = ("project", "date")

#: The logical table as readers see it: file columns plus the partition columns.
EVENTS_SCHEMA: Final = pa.schema(
    [
        *FILE_SCHEMA,
        pa.field("project", pa.string(), nullable=False),
        pa.field("date", pa.date32(), nullable=False),
    ]
)

FILE_COLUMNS: Final = tuple(FILE_SCHEMA.names)
REQUIRED_INPUT: Final = ("timestamp",)

#: Keys of the ``context`` JSON object that cxlens itself reads. Importers and the
#: collector put what they know here; everything else an SDK sends is kept as is.
CONTEXT_KEYS: Final = {
    "page": "object: url, path, title, referrer, search",
    "campaign": "object: source, medium, name, term, content (the utm_* parameters)",
    "click_ids": "object: gclid, gbraid, wbraid, dclid, msclkid, fbclid, ttclid, li_fat_id, ...",
    "user_agent": "string",
    "device": "object: type (desktop, mobile, tablet), manufacturer, model",
    "os": "object: name, version",
    "locale": "string, e.g. de-DE",
    "ip": "string, already anonymised",
    "library": "object: name, version of the SDK that sent it",
    "traits": "object: traits sent along (RudderStack puts identify traits here)",
}
