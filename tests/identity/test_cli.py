"""``cxlens identity|profile|account`` on the command line: one JSON document, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxlens.store.workspace import Workspace
from support import journeys
from support import run_cli as run


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    ws = Workspace.init(tmp_path / "ws", project="shop")
    ws.append(journeys({"p": [
        {"at": "2024-05-01 09:00", "type": "page", "event": "Home", "anonymous_id": "d1", "channel": "email"},
        {"at": "2024-05-01 10:00", "type": "identify", "anonymous_id": "d1", "user_id": "u-1",
         "properties": {"email": "kim@example.de", "role": "purchasing"}},
        {"at": "2024-05-01 10:05", "type": "track", "event": "Order Completed", "anonymous_id": "d1",
         "user_id": "u-1", "revenue": 99.5, "account_id": "acme"},
        {"at": "2024-05-01 10:06", "type": "group", "event": "Group", "user_id": "u-1", "account_id": "acme",
         "properties": {"name": "ACME GmbH", "industry": "Handel", "employees": "50-249", "country": "DE"}},
    ]}), source="test", project="shop")
    ws.close()
    return ws.root


def test_resolve_show_explain_unlink_account_as_json(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = ["-w", str(shop)]
    code, out, _ = run(capsys, *w, "identity", "resolve", "-p", "shop", "--json")
    assert code == 0 and json.loads(out)["persons"] == 1
    code, out, _ = run(capsys, *w, "profile", "show", "kim@example.de", "-p", "shop", "--json")
    doc = json.loads(out)
    assert doc["traits"]["email"] == "kim@example.de"
    assert doc["computed"]["orders"] == 1 and doc["computed"]["revenue"] == 99.5
    assert doc["computed"]["first_touch_channel"] == "email"
    code, out, _ = run(capsys, *w, "profile", "explain", "d1", "-p", "shop", "--json")
    assert {ln["link_source"] for ln in json.loads(out)["links"]} >= {"test:identify", "test:trait:email"}
    code, out, _ = run(capsys, *w, "account", "show", "acme", "-p", "shop", "--json")
    acct = json.loads(out)
    assert acct["industry"] == "Handel" and acct["members"][0]["role"] == "purchasing"
    code, out, _ = run(capsys, *w, "profile", "unlink", "d1", "u-1", "-p", "shop", "--json")
    assert code == 0 and len(json.loads(out)["persons_after"]) == 2


def test_unknown_id_is_one_line_and_exit_2(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "-w", str(shop), "identity", "resolve", "-p", "shop")
    code, out, err = run(capsys, "-w", str(shop), "profile", "show", "nobody", "-p", "shop", "--json")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "nobody" in err
