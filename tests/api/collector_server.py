"""Start the real ``cxlens serve`` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cxlens.store.keys import NewKeys, create_project
from cxlens.store.workspace import Workspace, read_retrying


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workspace: Path, port: int | None = None, *args: str) -> None:
        self.workspace = workspace
        self.port = port or free_port()
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workspace.parent / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:  # two workers start slowly on a busy box
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-c", "import sys; from cxlens.cli import main; main(sys.argv[1:])", "-w", str(self.workspace), "serve",
               "--port", str(self.port), *self.args]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()  # never leave a half-started server (and its workers) behind
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn and any workers): a crash."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM: uvicorn's graceful shutdown, which drains the WAL."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                raise
        return self.proc.returncode


class Live:
    """A workspace with two projects and the real server in front of it."""

    def __init__(self, root: Path) -> None:
        ws = Workspace.init(root)
        self.shop: NewKeys = create_project(ws.catalog, "shop")
        self.other: NewKeys = create_project(ws.catalog, "other")
        self.private: NewKeys = create_project(
            ws.catalog, "private", {"privacy": {"honor_dnt": True, "anonymize_ip": False}})
        ws.close()
        self.root = root
        self.server = Server(root).start()
        self.url = self.server.url

    def rows(self, project: str, where: str = "true", params: list[Any] | None = None) -> list[dict[str, Any]]:
        ws = Workspace.open(self.root)
        try:
            con = ws.con
            # the server's tier merges retire files meanwhile: list again and re-read
            con.register("_t", read_retrying(lambda: ws.events(project).to_arrow_table()))
            cur = con.execute(f"SELECT * FROM _t WHERE {where} ORDER BY timestamp", params or [])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        finally:
            ws.close()

    def wait_for(self, project: str, pred: Callable[[list[dict[str, Any]]], bool],
                 where: str = "true", params: list[Any] | None = None,
                 timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        rows = self.rows(project, where, params)
        while not pred(rows) and time.monotonic() < deadline:
            time.sleep(0.05)
            rows = self.rows(project, where, params)
        return rows
