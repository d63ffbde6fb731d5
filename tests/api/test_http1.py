"""``cxlens serve``'s HTTP protocol writes each response once, and is still HTTP/1.1."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from collector_server import Server
from uvicorn.config import Config
from uvicorn.server import ServerState

from cxlens.api.http1 import PROTOCOL, OneWriteProtocol, protocol
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace


class RecordingTransport(asyncio.Transport):
    """The socket side of one connection: keeps what the protocol writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b'{"ok":true}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _exchange(request: bytes) -> RecordingTransport:
    config = Config(app=_app, http=OneWriteProtocol, lifespan="off", access_log=False)
    config.load()
    protocol = OneWriteProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(20):
        await asyncio.sleep(0)
    return transport


def test_a_response_goes_out_in_one_write_head_and_body_together() -> None:
    t = asyncio.run(_exchange(b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"))
    assert len(t.writes) == 1
    head, body = t.writes[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 11" in head
    assert body == b'{"ok":true}'


def test_pipelined_requests_get_one_write_each_in_order() -> None:
    one = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    t = asyncio.run(_exchange(one + one.replace(b"/a", b"/b")))
    assert len(t.writes) == 2
    assert all(w.startswith(b"HTTP/1.1 200 OK") and w.endswith(b'{"ok":true}') for w in t.writes)


def test_a_head_response_still_sends_its_head() -> None:
    t = asyncio.run(_exchange(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert len(t.writes) == 1
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK") and t.writes[0].endswith(b"\r\n\r\n")


def test_the_server_answers_keep_alive_ingest_requests_back_to_back(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with Workspace.init(root) as ws:
        key = create_project(ws.catalog, "shop").write_key
    server = Server(root).start()
    try:
        body = b'{"writeKey":"%s","userId":"u1","event":"e","messageId":"m-%d"}'
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            s.settimeout(10)
            answers = b""
            for i in range(3):
                payload = body % (key.encode(), i)
                s.sendall(b"POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload))
                while answers.count(b'"success":true') <= i:
                    answers += s.recv(65536)
        assert answers.count(b"HTTP/1.1 200 OK") == 3
    finally:
        server.stop()
    with Workspace.open(root) as ws:
        assert ws.events("shop").count("*").fetchall()[0][0] == 3


def test_the_one_write_protocol_is_used_only_with_the_uvicorn_it_was_checked_against() -> None:
    assert PROTOCOL == "cxlens.api.http1:OneWriteProtocol"  # the pinned uvicorn (constraints.txt)
    assert protocol("0.54.3") == PROTOCOL
    assert protocol("0.60.0") == protocol("1.0.0") == "httptools"
