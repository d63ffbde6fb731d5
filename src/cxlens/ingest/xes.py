"""XES event logs (IEEE 1849, the process-mining standard), streamed.

A trace (case) becomes one person, each of its events one cxlens event. The file is
read with lxml's iterparse and every finished trace is cleared, so memory stays flat
however large the log; events leave in Arrow chunks. Events of a trace are held until
the trace ends because XES allows trace attributes after the events.

A process log is not web traffic: its events are steps of an organisation's process
(a loan application, a permit request), so they are never classified by GA4's web rules
and never fall back to ``direct``. Their channel is the mapped channel attribute's value
where an event or its trace has it, else the mapping's constant, else ``process``.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, cast

import orjson
import pyarrow as pa

from cxlens.errors import ImportError_, MappingError
from cxlens.ingest.rejects import Reject
from cxlens.model.events import TS

_ATTR_TAGS: Final = frozenset({"string", "date", "int", "float", "boolean", "id"})
_PERSON_FIELDS: Final = ("user_id", "anonymous_id", "account_id")
CHUNK_ROWS: Final = 50_000
#: the channel of a process log's events when the mapping names none
PROCESS_CHANNEL: Final = "process"

XES_SCHEMA: Final = pa.schema([
    pa.field("event_id", pa.string()),
    pa.field("timestamp", TS),
    pa.field("type", pa.string()),
    pa.field("event", pa.string()),
    pa.field("user_id", pa.string()),
    pa.field("anonymous_id", pa.string()),
    pa.field("account_id", pa.string()),
    pa.field("channel", pa.string()),
    pa.field("properties", pa.string()),
])


@dataclass(frozen=True, slots=True)
class XesOptions:
    #: trace attribute that names the person (the case id by default)
    person: str = "concept:name"
    #: which id the person attribute fills
    person_field: str = "user_id"
    #: event attribute giving the event name
    event: str = "concept:name"
    #: append the lifecycle transition to the name ("W_Call:START") when not COMPLETE
    lifecycle_in_name: bool = False
    #: constant channel (for events without the channel attribute's value)
    channel: str = PROCESS_CHANNEL
    #: name of an event or trace attribute holding the channel
    channel_attribute: str | None = None
    #: value rewrites of the channel attribute (e.g. Internet -> web)
    channel_map: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_mapping(cls, section: dict[str, Any] | None) -> XesOptions:
        section = dict(section or {})
        allowed = {"person", "person_field", "event", "lifecycle_in_name", "channel",
                   "channel_attribute", "channel_map"}
        unknown = set(section) - allowed
        if unknown:
            raise MappingError(f"section 'xes' has unknown key {sorted(unknown)[0]!r}; allowed: "
                               f"{', '.join(sorted(allowed))}", field="xes")
        pf = str(section.get("person_field", "user_id"))
        if pf not in _PERSON_FIELDS:
            raise MappingError(f"xes.person_field must be one of {', '.join(_PERSON_FIELDS)}",
                               field="xes.person_field")
        cmap = section.get("channel_map", {})
        if not isinstance(cmap, dict):
            raise MappingError("xes.channel_map must be a table of value = channel",
                               field="xes.channel_map")
        life = section.get("lifecycle_in_name", False)
        if not isinstance(life, bool):
            raise MappingError(f"xes.lifecycle_in_name must be true or false (no quotes), not {life!r}",
                               field="xes.lifecycle_in_name")
        for key in ("person", "event", "channel", "channel_attribute"):
            if key in section and not isinstance(section[key], str):
                raise MappingError(f"xes.{key} must be text (an attribute name or a channel), "
                                   f"not {section[key]!r}", field=f"xes.{key}")
            if key in section and not section[key].strip():
                raise MappingError(f"xes.{key} must not be empty; leave it out for the default",
                                   field=f"xes.{key}")
        return cls(
            person=str(section.get("person", "concept:name")),
            person_field=pf,
            event=str(section.get("event", "concept:name")),
            lifecycle_in_name=life,
            channel=str(section.get("channel", PROCESS_CHANNEL)),
            channel_attribute=(None if section.get("channel_attribute") is None
                               else str(section["channel_attribute"])),
            channel_map=tuple((str(k), str(v)) for k, v in cmap.items()),
        )


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1]


def _value(tag: str, raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        if tag == "int":
            return int(raw)
        if tag == "float":
            return float(raw)
    except ValueError:
        return raw
    if tag == "boolean":
        return raw.strip().lower() == "true"
    return raw


def _attributes(elem: Any) -> dict[str, Any]:
    """The typed attributes directly under an element (nested meta-attributes skipped)."""
    out: dict[str, Any] = {}
    for child in elem:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # comments, processing instructions
        name = tag.rsplit("}", 1)[-1]
        if name in _ATTR_TAGS:
            key = child.get("key")
            if key is not None:
                out[key] = _value(name, child.get("value"))
    return out


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        ts = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if ts.tzinfo is None:  # the standard wants an offset; naive times are taken as UTC
        from datetime import UTC

        ts = ts.replace(tzinfo=UTC)
    return ts


class _Chunk:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {n: [] for n in XES_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.cols["event_id"])

    def add(self, **row: Any) -> None:
        for name, values in self.cols.items():
            values.append(row.get(name))

    def table(self) -> pa.Table:
        return pa.table({n: pa.array(v, type=XES_SCHEMA.field(n).type) for n, v in self.cols.items()},
                        schema=XES_SCHEMA)


def read_xes(
    path: Path,
    opts: XesOptions,
    rejects: list[Reject],
    on_progress: Callable[[float], None] | None = None,
) -> Iterator[pa.Table]:
    """Yield Arrow chunks of events; bad events are appended to ``rejects``."""
    from lxml import etree

    total = path.stat().st_size
    raw: IO[bytes] = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    fh: IO[bytes] = raw
    if magic == b"\x1f\x8b":
        fh = cast(IO[bytes], gzip.GzipFile(fileobj=raw))
    cmap = dict(opts.channel_map)
    chunk = _Chunk()
    trace_events: list[tuple[dict[str, Any], int]] = []
    seen_trace = False
    ordinal = 0
    try:
        # Only the ends of <event> and <trace> call back into Python: their attribute
        # children are read from the finished element, which is much faster than a
        # callback per attribute.
        for _, elem in etree.iterparse(fh, events=("end",), tag=("{*}event", "{*}trace"),
                                       huge_tree=True, resolve_entities=False, no_network=True):
            parent = elem.getparent()
            if _local(elem.tag) == "event":
                if parent is None or _local(parent.tag) != "trace":
                    continue  # events outside traces (XES allows none) are not a journey
                ordinal += 1
                trace_events.append((_attributes(elem), elem.sourceline or 0))
                elem.clear()
                continue
            seen_trace = True
            _emit_trace(_attributes(elem), trace_events, opts, cmap, chunk, rejects, ordinal)
            trace_events = []
            elem.clear()
            while elem.getprevious() is not None:
                del parent[0]
            if len(chunk) >= CHUNK_ROWS:
                yield chunk.table()
                chunk = _Chunk()
                if on_progress is not None and total:
                    on_progress(min(raw.tell() / total, 1.0))
    except etree.XMLSyntaxError as exc:
        raise ImportError_(f"{path.name} is not valid XES/XML: {exc}; nothing was imported") from exc
    finally:
        raw.close()
    if not seen_trace:
        raise ImportError_(f"{path.name} has no <trace> elements; is it an XES event log?")
    if len(chunk):
        yield chunk.table()
    if on_progress is not None:
        on_progress(1.0)


def _emit_trace(
    trace_attrs: dict[str, Any],
    events: list[tuple[dict[str, Any], int]],
    opts: XesOptions,
    cmap: dict[str, str],
    chunk: _Chunk,
    rejects: list[Reject],
    ordinal: int,
) -> None:
    person = trace_attrs.get(opts.person)
    person_id = None if person is None or person == "" else str(person)
    case_props = {}
    for k, v in trace_attrs.items():
        if k == opts.person:
            continue
        case_props[k] = v
    first_ordinal = ordinal - len(events) + 1
    for index, (attrs, line) in enumerate(events):
        row_no = first_ordinal + index
        ts = _parse_time(attrs.get("time:timestamp"))
        if ts is None or person_id is None:
            raw = orjson.dumps({"trace": trace_attrs, "event": attrs}, default=str).decode()
        if ts is None:
            reason = ("missing time:timestamp" if attrs.get("time:timestamp") is None
                      else f"cannot parse time:timestamp {attrs.get('time:timestamp')!r}")
            rejects.append(Reject(row_no, line, "time:timestamp", reason, raw))
            continue
        if person_id is None:
            rejects.append(Reject(row_no, line, opts.person,
                                  f"missing person id: the trace has no {opts.person!r} attribute", raw))
            continue
        name = attrs.get(opts.event)
        event = None if name is None else str(name)
        life = attrs.get("lifecycle:transition")
        if opts.lifecycle_in_name and event and life and str(life).upper() != "COMPLETE":
            event = f"{event}:{life}"
        props = {k: v for k, v in attrs.items() if k not in (opts.event, "time:timestamp")}
        for k, v in case_props.items():
            props[k if k not in props else f"case:{k}"] = v
        channel = opts.channel
        if opts.channel_attribute:
            found = attrs.get(opts.channel_attribute, trace_attrs.get(opts.channel_attribute))
            # an empty value would become NULL, i.e. "direct" once sessionised
            if found is not None and str(found).strip():
                channel = cmap.get(str(found), str(found)) or opts.channel
        digest = hashlib.md5(
            f"xes\x1f{person_id}\x1f{index}\x1f{event}\x1f{ts.isoformat()}".encode(),
            usedforsecurity=False,
        ).hexdigest()
        chunk.add(
            event_id=digest, timestamp=ts, type="track", event=event,
            channel=channel, properties=orjson.dumps(props, default=str).decode(),
            **{opts.person_field: person_id},
        )
