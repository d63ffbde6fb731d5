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
