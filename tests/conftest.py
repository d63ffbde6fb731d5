from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxlens.store.workspace import Workspace
from support import Inbox


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws")
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    """One local Spark session for the test run; skipped where Spark cannot start."""
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'cxlens[spark]'")
    from cxlens.engines.spark import java_available, spark_session

    if not java_available():
        pytest.skip("no Java runtime for Spark (apt-get install openjdk-17-jre-headless)")
    session = spark_session("cxlens-tests")
    yield session
    session.stop()


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    """(port, inbox) of an aiosmtpd server on loopback for the test."""
    from aiosmtpd.controller import Controller

    with socket.socket() as s:  # aiosmtpd's start-up self-check cannot use port 0
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
