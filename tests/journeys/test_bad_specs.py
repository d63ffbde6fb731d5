"""Every analysis refuses a bad spec the same way: a SpecError naming the field, one line
and exit code 2 on the CLI, a 400 naming the field over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxlens.api.app import create_app
from cxlens.store.keys import create_project
from cxlens.store.workspace import Workspace
from support import journeys, run_cli

# (analysis, spec, field named, words of the message)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("funnel", {"steps": ["Product Viewed", "Prodcut Added"]}, "steps[1]",
     "unknown event 'Prodcut Added'"),
    ("funnel", {"steps": []}, "steps", "at least one step"),
    ("funnel", {"steps": ["Product Viewed"], "window": "0d"}, "window", "positive duration"),
    ("funnel", {"steps": ["Product Viewed"], "window": "-2h"}, "window", "positive duration"),
    ("funnel", {"steps": ["Product Viewed"], "window": ""}, "window", "a duration such as"),
    ("funnel", {"steps": ["Product Viewed", {"event": "Order Completed", "window": "-1h"}]},
     "steps[1].window", "positive duration"),
    ("paths", {"start": "Nope"}, "start", "unknown event 'Nope'"),
    ("paths", {"end": "Nope"}, "end", "unknown event 'Nope'"),
    ("paths", {"max_steps": 0}, "max_steps", "2..50"),
    ("paths", {"session": "-30m"}, "session", "positive duration"),
    ("paths", {"since": "2024-05-02", "until": "2024-05-01"}, "since", "before until"),
    ("graph", {"where": ["event=Nope"]}, "where[0]", "unknown event 'Nope'"),
    ("graph", {"designed": []}, "designed", "at least two steps"),
    ("graph", {"designed": ["Product Viewed", "Nope"]}, "designed[1]", "unknown event 'Nope'"),
    ("graph", {"session": "0m"}, "session", "positive duration"),
    ("retention", {"first": "Nope"}, "first", "unknown event 'Nope'"),
    ("retention", {"returning": "Nope"}, "returning", "unknown event 'Nope'"),
    ("retention", {"periods": 0}, "periods", "1..120"),
    ("retention", {"period": "year"}, "period", "one of"),
    ("state", {"journey": "nope"}, "journey", "no journey definition 'nope'"),
    ("state", {"journey": "b2c", "limit": -1}, "limit", "0 or more"),
    ("state", {"journey": "b2c", "as_of": "yesterday"}, "as_of", "ISO date"),
    ("state", {}, "journey", "needs a journey definition"),
]
ENDPOINT = {"funnel": "/api/v1/funnels", "paths": "/api/v1/paths", "graph": "/api/v1/graph",
            "retention": "/api/v1/retention", "state": "/api/v1/journey/state"}
IDS = [f"{a}-{f}-{i}" for i, (a, _, f, _) in enumerate(CASES)]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    ws = Workspace.init(tmp_path_factory.mktemp("bad") / "ws")
    keys = create_project(ws.catalog, "default")  # the default project gets its keys
    ws.append(journeys({"ann": [{"at": "2024-05-01 10:00", "event": "Product Viewed"},
                                {"at": "2024-05-01 10:05", "event": "Order Completed"}]}),
              source="test")
    ws.close()
    return ws.root, keys.secret_key


@pytest.mark.parametrize(("name", "doc", "field", "words"), CASES, ids=IDS)
def test_bad_spec_is_a_400_naming_the_field(shop: tuple[Path, str], name: str,
                                            doc: dict[str, Any], field: str,
                                            words: str) -> None:
    root, key = shop
    res = TestClient(create_app(root)).post(ENDPOINT[name], json=doc,
                                            headers={"Authorization": f"Bearer {key}"})
    assert res.status_code == 400, res.text
    body = res.json()
    assert body["error"] == "invalid_spec" and body["field"] == field
    assert words in body["message"]


@pytest.mark.parametrize(("name", "doc", "field", "words"),
                         [c for c in CASES if c[0] != "state" or "journey" in c[1]],
                         ids=[i for i, c in zip(IDS, CASES, strict=True)
                              if c[0] != "state" or "journey" in c[1]])
def test_bad_spec_is_one_line_and_exit_code_2_on_the_cli(
        shop: tuple[Path, str], tmp_path: Path, capsys: Any, name: str, doc: dict[str, Any],
        field: str, words: str) -> None:
    root, _ = shop
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(doc))
    command = ["journey", "state", doc["journey"]] if name == "state" else [name]
    code, _, err = run_cli(capsys, "--workspace", str(root), *command, "--spec", str(spec))
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1
