"""``cxlens privacy ...`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxlens.store.workspace import Workspace
from support import journeys
from support import run_cli as run


def test_export_erase_and_bad_out_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.append(journeys({"p": [{"at": "2024-05-01 09:05", "type": "identify", "anonymous_id": "dev-7",
                               "user_id": "user-7"}]}), source="test")
    ws.close()
    w = ["-w", str(ws.root)]
    assert run(capsys, *w, "identity", "resolve", "--json")[0] == 0
    code, out, _ = run(capsys, *w, "privacy", "export", "user-7", "--out", str(tmp_path / "x.zip"), "--json")
    assert code == 0 and json.loads(out)["events"] == 1
    code, out, err = run(capsys, *w, "privacy", "export", "user-7", "--out", str(tmp_path / "x.txt"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and ".zip" in err
    code, out, _ = run(capsys, *w, "privacy", "erase", "dev-7", "--json")
    assert code == 0 and json.loads(out)["rows_removed"]["events"] == 1
