"""The journey commands as a user runs them: the real entry point, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cxlens.store.workspace import Workspace
from support import journeys

CXLENS = [sys.executable, "-c", "from cxlens.cli import main; main()"]


def cx(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CXLENS, "--workspace", str(ws), *args], capture_output=True,
                          text=True, timeout=120)


def shop(tmp_path: Path) -> Path:
    ws = Workspace.init(tmp_path / "ws")
    ws.append(journeys({
        "ann": [{"at": "2024-05-01 10:00", "event": "Product Viewed"},
                {"at": "2024-05-01 10:02", "event": "Checkout Step Viewed", "properties": {"step": 3}},
                {"at": "2024-05-01 10:05", "event": "Order Completed"}],
        "ben": [{"at": "2024-05-02 09:00", "event": "Product Viewed"},
                {"at": "2024-05-02 09:01", "event": "Checkout Step Viewed", "properties": {"step": 2}}],
    }), source="test")
    ws.close()
    return tmp_path / "ws"


def test_funnel_from_flags_prints_one_json_document(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    res = cx(ws, "funnel", "-s", "Product Viewed", "-s", "Checkout Step Viewed | step=3",
             "-s", "Order Completed", "--window", "1d", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [s["persons"] for s in doc["steps"]] == [2, 1, 1]
    assert doc["steps"][1]["dropped_persons"] == ["ben"]


def test_funnel_from_a_spec_file_and_table_output(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    spec = tmp_path / "f.toml"
    spec.write_text('steps = ["Product Viewed", "Order Completed"]\nwindow = "2h"\n')
    res = cx(ws, "funnel", "--spec", str(spec))
    assert res.returncode == 0, res.stderr
    assert "converted: 1;" in res.stdout and "50.0 %" in res.stdout


def test_bad_window_is_one_line_naming_the_problem(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    res = cx(ws, "funnel", "-s", "Product Viewed", "--window", "-1d")
    assert res.returncode == 2
    assert "window must be a positive duration" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_paths_graph_retention_answer_json(tmp_path: Path) -> None:
    ws = shop(tmp_path)
    assert json.loads(cx(ws, "paths", "--json").stdout)["persons"] == 2
    graph = json.loads(cx(ws, "graph", "--json", "--export", str(tmp_path / "log.csv")).stdout)
    assert graph["traces"] == 2 and (tmp_path / "log.csv").read_text().count("\n") == 6
    assert json.loads(cx(ws, "retention", "--json").stdout)["buyers"] == 1
