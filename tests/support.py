"""Declarative journeys for tests: person -> list of events, turned into an Arrow table."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from cxlens.model.events import FILE_SCHEMA

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_api() -> ModuleType:
    """Playwright's sync API for a browser test module, or skip the module with the
    command that installs what is missing (Debian's chromium, the dev extra)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("browser tests need Debian's chromium: apt-get install -y chromium "
                    "(python3 dev.py test installs it when run as root)", allow_module_level=True)
    return pytest.importorskip("playwright.sync_api",
                               reason="browser tests need playwright: pip install -e '.[dev]'")


def ts(text: str) -> datetime:
    """'2024-05-01 10:00' or '2024-05-01T10:00:00' as an aware UTC datetime."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def journeys(people: dict[str, list[dict[str, Any]]], *, anonymous: bool = False) -> pa.Table:
    """Build events from ``{"alice": [{"event": "Home", "at": "2024-05-01 10:00"}, ...]}``.

    Each event dict may carry any event column; ``at`` is the timestamp, ``page`` and
    ``referrer``/``utm`` fill the context. The person key becomes user_id (or
    anonymous_id with ``anonymous=True``) unless the event sets ids itself.
    """
    rows: list[dict[str, Any]] = []
    for person, events in people.items():
        for ev in events:
            row: dict[str, Any] = {name: None for name in FILE_SCHEMA.names}
            row.update({k: v for k, v in ev.items() if k in FILE_SCHEMA.names})
            row["timestamp"] = ts(ev["at"])
            row["received_at"] = row["timestamp"]
            row["type"] = ev.get("type", "track")
            if "anonymous_id" not in ev and "user_id" not in ev:
                row["anonymous_id" if anonymous else "user_id"] = person
            ctx: dict[str, Any] = dict(ev.get("context", {}))
            if "page" in ev or "referrer" in ev:
                ctx["page"] = {"url": ev.get("page", ""), "referrer": ev.get("referrer", "")}
            if "utm" in ev:
                ctx["campaign"] = ev["utm"]
            row["context"] = json.dumps(ctx) if ctx else None
            if isinstance(row.get("properties"), dict):
                row["properties"] = json.dumps(row["properties"])
            row["source"] = row["source"] or "test"
            rows.append(row)
    table = pa.Table.from_pylist(rows, schema=_nullable(FILE_SCHEMA))
    # event_id and received_at are filled by the store when absent
    return table.drop_columns(["event_id"]) if all(r["event_id"] is None for r in rows) else table


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])


def numbered_events(n: int, *, start: int = 0, person_mod: int = 97, day_mod: int = 3) -> pa.Table:
    """``n`` distinct events with explicit ids ``e<start+i>`` spread over a few days."""
    ids = [f"e{start + i}" for i in range(n)]
    base = datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    stamps = [
        datetime.fromtimestamp(base + ((start + i) % day_mod) * 86400 + (start + i) % 3600, tz=UTC)
        for i in range(n)
    ]
    return pa.table(
        {
            "event_id": ids,
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "event": ["Page Viewed"] * n,
            "type": ["page"] * n,
            "anonymous_id": [f"a{(start + i) % person_mod}" for i in range(n)],
        }
    )


def count(rel: Any) -> int:
    return int(rel.aggregate("count(*)").fetchall()[0][0])


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run the ``cxlens`` command in-process: (exit code, stdout, stderr)."""
    from cxlens.cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


class Inbox:
    """What a real local SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"
