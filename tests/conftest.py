from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cxlens.store.workspace import Workspace


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
