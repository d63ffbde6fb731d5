from __future__ import annotations

from collections.abc import Iterator

import pytest
from collector_server import Live


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    env = Live(tmp_path_factory.mktemp("collector") / "ws")
    yield env
    env.server.stop()
