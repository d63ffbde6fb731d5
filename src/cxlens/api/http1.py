"""uvicorn's httptools HTTP/1.1 protocol, answering each response in one write.

uvicorn writes the status line and headers when the app sends ``http.response.start``
and the body in a second write on ``http.response.body``: two syscalls and two TCP
segments per response, and on loopback each write runs the receiver's network stack
and wakes it. A single-event ingest request is mostly fixed costs like these (bare
uvicorn answering an orjson-decoded body: 25 -> 19 µs of server CPU per request when
the two writes are one, and wrk on the same box got 35% more requests through).

``cxlens serve`` passes this class as uvicorn's ``http`` protocol. It changes only
when bytes go out: the head is held back until the first body message and written
with it (or alone, if that message writes nothing, e.g. a HEAD response). Everything
else, keep-alive, pipelining, flow control, ``Content-Length`` checks, is uvicorn's.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

#: the uvicorn releases whose response cycle this class was checked against (by
#: tests/api/test_http1.py; constraints.txt pins one). It swaps the cycle's transport
#: while uvicorn's ``send`` runs, which a later uvicorn may do differently, so any other
#: release gets uvicorn's own httptools protocol: two writes per response, nothing else lost
CHECKED_UVICORN: Final = ("0.54.",)


def protocol(version: str = uvicorn.__version__) -> str:
    """``cxlens serve``'s ``http`` for uvicorn (imported by each worker)."""
    if version.startswith(CHECKED_UVICORN):
        return "cxlens.api.http1:OneWriteProtocol"
    return "httptools"


PROTOCOL: Final = protocol()


class _Held:
    """Stands in for the transport while uvicorn writes the response head."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


class _Prefixed:
    """Stands in for the transport while uvicorn writes the first body message: the
    first write carries the held head."""

    def __init__(self, transport: asyncio.Transport, head: bytes) -> None:
        self._transport = transport
        self.head: bytes | None = head

    def write(self, data: bytes) -> None:
        head, self.head = self.head, None
        self._transport.write(head + data if head else data)

    def flush(self) -> None:
        if self.head:
            self.write(b"")

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteCycle(RequestResponseCycle):
    _head: bytes | None = None

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            transport, held = self.transport, _Held()
            self.transport = held  # type: ignore[assignment]
            try:
                await super().send(message)
            finally:
                self.transport = transport
            self._head = held.data or None
            return
        head, self._head = self._head, None
        if head is None:
            await super().send(message)
            return
        transport = self.transport
        prefixed = _Prefixed(transport, head)
        self.transport = prefixed  # type: ignore[assignment]
        try:
            await super().send(message)
        finally:
            self.transport = transport
            prefixed.flush()


class OneWriteProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # the request's task exists but has not run yet: it looks ``send`` up on the
        # cycle when it starts, so the subclass's send is the one the app gets
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = OneWriteCycle
