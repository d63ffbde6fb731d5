"""Segment / RudderStack archives: the JSON that warehouses and S3 destinations keep.

Accepted shapes, gzip or not (told by the magic bytes, not the name): one document
``{"batch": [...], "sentAt": ...}``, a JSON array of messages, or JSON Lines whose
lines are messages or whole batches. Messages become events through the collector's
own ``messages_to_events``, so an archived event and a live one are the same row.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, cast

import orjson
import pyarrow as pa

from cxlens.errors import ImportError_
from cxlens.ingest.rejects import Reject

CHUNK: Final = 20_000

#: one message with where it came from: (message or None if bad, ordinal, line or None,
#: batch sentAt, raw text, its path in the document: "batch[3]", "[3]" or "")
_Item = tuple[dict[str, Any] | None, int, int | None, Any, str, str]


def _open(path: Path) -> IO[bytes]:
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw))
    return raw


def _messages(path: Path) -> Iterator[_Item]:
    """Yield the messages of the file, each with where it came from (``_Item``)."""
    ordinal = 0
    with _open(path) as stream:
        first = stream.readline()
        line_no = 1
        while first and not first.strip():
            first = stream.readline()
            line_no += 1
        if not first:
            raise ImportError_(f"{path.name} is empty; nothing to import")
        try:
            head = orjson.loads(first)
            whole = False
        except orjson.JSONDecodeError:
            whole = True  # a pretty-printed document or array spanning lines
        if whole:
            try:
                doc = orjson.loads(first + stream.read())
            except orjson.JSONDecodeError as exc:
                raise ImportError_(f"{path.name} is neither JSON nor JSON Lines: {exc}") from exc
            for msg, sent, at in _unpack(doc):
                ordinal += 1
                yield msg, ordinal, None, sent, "", at
            return
        lines = [(line_no, first, head)]
        for raw_line in stream:
            line_no += 1
            if not raw_line.strip():
                continue
            try:
                lines.append((line_no, raw_line, orjson.loads(raw_line)))
            except orjson.JSONDecodeError:
                lines.append((line_no, raw_line, _INVALID))
            if len(lines) >= 1000:
                for item in _flush(lines, ordinal):
                    ordinal = item[1]
                    yield item
                lines = []
        for item in _flush(lines, ordinal):
            ordinal = item[1]
            yield item


_INVALID: Final = object()


def _flush(lines: list[tuple[int, bytes, Any]], ordinal: int) -> Iterator[_Item]:
    for line_no, raw, obj in lines:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        if obj is _INVALID:
            ordinal += 1
            yield None, ordinal, line_no, "invalid JSON: the line is not a JSON document", text, ""
            continue
        for msg, sent, at in _unpack(obj):
            ordinal += 1
            # a line holding a batch: the message is the record, not the whole line
            yield msg, ordinal, line_no, sent, "" if at else text, at


def _unpack(doc: Any) -> Iterator[tuple[Any, Any, str]]:
    """(message, batch sentAt, path of the message in ``doc``) for each message."""
    if isinstance(doc, list):
        for i, msg in enumerate(doc):
            yield msg, None, f"[{i}]"
    elif isinstance(doc, dict) and isinstance(doc.get("batch"), list):
        for i, msg in enumerate(doc["batch"]):
            yield msg, doc.get("sentAt"), f"batch[{i}]"
    else:
        yield doc, None, ""


def _parse_sent(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def read_segment_archive(path: Path, rejects: list[Reject]) -> Iterator[pa.Table]:
    """Yield event tables (without ``project``); bad messages go to ``rejects``."""
    from cxlens.ingest.segment import Limits, messages_to_events

    limits = Limits(max_future=None)
    received = datetime.now(UTC)
    pending: list[tuple[dict[str, Any], int, int | None, str, str]] = []
    pending_sent: Any = None

    def flush() -> Iterator[pa.Table]:
        if not pending:
            return
        table, errors = messages_to_events(
            [p[0] for p in pending], sent_at=_parse_sent(pending_sent), received_at=received,
            limits=limits, trust_received_at=True,
        )
        for err in errors:
            _, ordinal, line, raw, at = pending[err.index]
            # the field as the collector names it: batch[3].userId
            column = f"{at}.{err.field}" if at and err.field else (at or err.field)
            rejects.append(Reject(ordinal, line, column, err.reason, raw))
        pending.clear()
        if table.num_rows:
            yield table

    for msg, ordinal, line, sent, raw, at in _messages(path):
        if msg is None:
            rejects.append(Reject(ordinal, line, "line", str(sent), raw))
            continue
        if not isinstance(msg, dict):
            rejects.append(Reject(ordinal, line, at or "message", "a message must be a JSON object",
                                  raw or orjson.dumps(msg).decode()))
            continue
        if sent != pending_sent or len(pending) >= CHUNK:
            yield from flush()
            pending_sent = sent
        pending.append((msg, ordinal, line, raw or orjson.dumps(msg).decode(), at))
    yield from flush()
    rejects.sort(key=lambda r: r.row)
